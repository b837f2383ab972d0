/* tests/unit/test_config.c - conf/: defaults, every section,
 * listen and CIDR parsing, the password file, config_print's round trip, and
 * each class of error with its FILE:LINE and setting path. */
#include "conf/conf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap_main.h"

static char tmpdir[] = "/tmp/dirmail-test-config-XXXXXX";

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert(n > 0 && (size_t)n < sizeof cmd);
    ck_assert_int_eq(system(cmd), 0);
    memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

/* write_file - tmpdir/name with text (mode); returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    int n = snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    ck_assert(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static struct config *load_text(const char *text, char **error_r)
{
    return config_load(write_file("dirmail.conf", text, 0600), error_r);
}

static struct config *load_ok(const char *text)
{
    char *error = NULL;
    struct config *conf = load_text(text, &error);
    ck_assert_msg(conf != NULL, "load failed: %s", error ? error : "(no error)");
    ck_assert_ptr_null(error);
    return conf;
}

/* expect_error - text must fail with "dirmail.conf:LINE: setting PATH: ..."
 * whose text contains what. */
static void expect_error(const char *text, int line, const char *path, const char *what)
{
    char *error = NULL;
    struct config *conf = load_text(text, &error);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(error);
    char want[256];
    int n = snprintf(want, sizeof want, "%s/dirmail.conf:%d: setting %s: ", tmpdir, line, path);
    ck_assert(n > 0 && (size_t)n < sizeof want);
    ck_assert_msg(strncmp(error, want, strlen(want)) == 0, "got \"%s\", want prefix \"%s\"", error,
                  want);
    ck_assert_msg(strstr(error, what) != NULL, "\"%s\" lacks \"%s\"", error, what);
    free(error);
}

/* print_to_string - config_print's output, malloc'd. */
static char *print_to_string(const struct config *conf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    config_print(conf, f);
    ck_assert_int_eq(fclose(f), 0);
    return buf;
}

START_TEST(defaults)
{
    struct config *conf = load_ok("");
    char host[256] = "";
    ck_assert_int_eq(gethostname(host, sizeof host), 0);
    ck_assert_str_eq(conf->server.hostname, host);
    ck_assert_str_eq(conf->server.user, "dirmail");
    ck_assert_str_eq(conf->server.group, "dirmail");
    ck_assert_str_eq(conf->server.pid_file, "/run/dirmail/dirmaild.pid");
    ck_assert_str_eq(conf->server.state_dir, "/var/lib/dirmail");
    ck_assert_int_eq(conf->server.log_target, LOG_TARGET_SYSLOG);
    ck_assert_int_eq(conf->server.log_level, LOG_LEVEL_INFO);
    ck_assert_uint_eq(conf->server.workers, 0);
    ck_assert_uint_eq(conf->server.shutdown_grace, 30);
    ck_assert_uint_eq(conf->server.restart_delay_max, 5000);
    ck_assert_uint_eq(conf->ldap.uri_count, 1);
    ck_assert_str_eq(conf->ldap.uris[0], "ldap://localhost/");
    ck_assert_ptr_null(conf->ldap.bind_dn);
    ck_assert_ptr_null(conf->ldap.bind_password);
    ck_assert_str_eq(conf->ldap.base, "");
    ck_assert_str_eq(conf->ldap.profile, "dirmail");
    ck_assert_uint_eq(conf->ldap.connect_timeout, 3);
    ck_assert_uint_eq(conf->ldap.timeout, 5);
    ck_assert_uint_eq(conf->ldap.pool_size, 4);
    ck_assert_int_eq(conf->ldap.starttls, LDAP_STARTTLS_NO);
    ck_assert(conf->ldap.verify_cert);
    ck_assert_str_eq(conf->ldap.subaddress_delimiter, "+");
    ck_assert(!conf->ldap.case_sensitive_local_part);
    ck_assert_int_eq(conf->ldap.disabled_policy, LDAP_DISABLED_REJECT);
    ck_assert_uint_eq(conf->ldap.group_max_depth, 8);
    ck_assert_uint_eq(conf->ldap.group_max_members, 1000);
    ck_assert_uint_eq(conf->ldap.auth_pool_size, 4);
    ck_assert_uint_eq(conf->ldap.pool_wait, 5);
    ck_assert_uint_eq(conf->ldap.failback_interval, 30);
    ck_assert_uint_eq(conf->ldap.domain_cache_ttl, 60);
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++)
        ck_assert_ptr_null(conf->ldap.attributes[i]);
    for (size_t i = 0; i < CONFIG_LDAP_FILTER_COUNT; i++)
        ck_assert_ptr_null(conf->ldap.filters[i]);
    ck_assert_ptr_null(conf->ldap.group_classes);
    ck_assert_ptr_null(conf->ldap.catchall);
    ck_assert_ptr_null(conf->ldap.status_style);
    ck_assert_ptr_null(conf->ldap.keep_style);
    ck_assert_int_eq(conf->ldap.proxy_addresses, -1);
    ck_assert_uint_eq(conf->domains.relay_count, 0);
    ck_assert_ptr_null(conf->tls.cert_file);
    ck_assert_str_eq(conf->tls.min_protocol, "TLSv1.2");
    ck_assert_uint_eq(conf->service_count, 1);
    ck_assert_int_eq(conf->services[0].type, SERVICE_SMTP);
    ck_assert_str_eq(conf->services[0].name, "smtp");
    ck_assert_uint_eq(conf->services[0].listen_count, 1);
    ck_assert_str_eq(conf->services[0].listen[0].host, "*");
    ck_assert_uint_eq(conf->services[0].listen[0].port, 25);
    ck_assert_uint_eq(conf->services[0].max_connections, 1000);
    ck_assert_uint_eq(conf->services[0].max_connections_per_ip, 50);
    ck_assert_uint_eq(conf->services[0].idle_timeout, 300);
    ck_assert_uint_eq(conf->services[0].session_timeout, 3600);
    ck_assert_uint_eq(conf->domains.local_count, 0);
    ck_assert(!conf->domains.from_directory);
    ck_assert_uint_eq(conf->relay.trusted_network_count, 2);
    ck_assert_str_eq(conf->relay.trusted_networks[0], "127.0.0.0/8");
    ck_assert_str_eq(conf->relay.trusted_networks[1], "::1/128");
    ck_assert_uint_eq(conf->queue.max_age, 432000);
    ck_assert_uint_eq(conf->queue.delay_warning, 14400);
    ck_assert_uint_eq(conf->queue.bounce_size_limit, 50000);
    ck_assert_uint_eq(conf->queue.retry_min, 300);
    ck_assert_uint_eq(conf->queue.retry_max, 4000);
    ck_assert_uint_eq(conf->queue.scan_interval, 60);
    ck_assert_uint_eq(conf->queue.delivery_threads, 4);
    ck_assert_uint_eq(conf->queue.min_free, 78643200); /* 1.5 x 50 MiB */
    ck_assert_uint_eq(conf->cache.positive_ttl, 300);
    ck_assert_uint_eq(conf->cache.negative_ttl, 60);
    ck_assert_uint_eq(conf->cache.auth_ttl, 60);
    ck_assert_uint_eq(conf->cache.stale_ttl, 3600);
    ck_assert_uint_eq(conf->cache.size, 100000);
    ck_assert_str_eq(conf->delivery.mailbox_base, "/var/vmail");
    ck_assert_int_eq(conf->delivery.sync_method, DELIVERY_SYNC_AUTO);
    ck_assert_uint_eq(conf->limits.line_length, 512);
    ck_assert_uint_eq(conf->limits.text_line_length, 1000);
    ck_assert_uint_eq(conf->limits.message_size, 50u * 1024 * 1024);
    ck_assert_uint_eq(conf->limits.recipients, 1000);
    ck_assert_uint_eq(conf->limits.errors, 20);
    ck_assert_uint_eq(conf->limits.max_connections, 10000);
    ck_assert_uint_eq(conf->limits.pregreet_wait, 300);
    ck_assert_uint_eq(conf->limits.pregreet_pass_ttl, 86400);
    ck_assert_int_eq(conf->limits.message_nul, MESSAGE_NUL_REJECT);
    ck_assert_uint_eq(conf->limits.header_max_size, 102400);
    ck_assert_uint_eq(conf->limits.header_max_count, 1000);
    ck_assert_uint_eq(conf->sasl.mechanism_count, 2);
    ck_assert_str_eq(conf->sasl.mechanisms[0], "PLAIN");
    ck_assert_str_eq(conf->sasl.mechanisms[1], "LOGIN");
    ck_assert(!conf->sasl.allow_authzid);
    ck_assert(!conf->sasl.plaintext_without_tls);
    ck_assert(conf->sasl.sender_login_check);
    ck_assert(!conf->sasl.authenticated_header);
    ck_assert_ptr_nonnull(strstr(conf->path, "/dirmail.conf"));
    config_free(&conf);
    ck_assert_ptr_null(conf);
    config_free(&conf); /* NULL is fine */
}
END_TEST

START_TEST(sample_loads)
{
    char path[512];
    const char *srcdir = getenv("top_srcdir");
    int n = snprintf(path, sizeof path, "%s/conf/dirmail.conf.sample", srcdir ? srcdir : "..");
    ck_assert(n > 0 && (size_t)n < sizeof path);
    char *error = NULL;
    struct config *conf = config_load(path, &error);
    ck_assert_msg(conf != NULL, "%s", error ? error : "");
    ck_assert_uint_eq(conf->service_count, 1);
    ck_assert_uint_eq(conf->limits.message_size, 52428800);
    /* The sample shows the defaults: it must mean exactly what an empty file means. */
    char *sample = print_to_string(conf);
    config_free(&conf);
    conf = load_ok("");
    char *empty = print_to_string(conf);
    ck_assert_str_eq(sample, empty);
    free(sample);
    free(empty);
    config_free(&conf);
}
END_TEST

START_TEST(include_relative)
{
    /* Relative to the configuration's folder, not the cwd; errors name the included file. */
    ck_assert_int_eq(chdir("/"), 0);
    write_file("limits.conf", "message_size = 2048;\n", 0600);
    struct config *conf = load_ok("limits = {\n @include \"limits.conf\"\n};\n");
    ck_assert_uint_eq(conf->limits.message_size, 2048);
    config_free(&conf);

    write_file("limits.conf", "message_size = 2048;\n\nerrors = 0;\n", 0600);
    char *error = NULL;
    ck_assert_ptr_null(load_text("limits = {\n @include \"limits.conf\"\n};\n", &error));
    ck_assert_msg(strstr(error, "/limits.conf:3: setting limits.errors: must be between") != NULL,
                  "%s", error);
    free(error);
}
END_TEST

START_TEST(sections_parsed)
{
    struct config *conf = load_ok(
        "server = { hostname = \"MX1.Example.COM\"; user = \"mail\"; group = \"mail\";\n"
        "  pid_file = \"/tmp/d.pid\"; state_dir = \"/srv/dirmail\"; log = \"stderr\";\n"
        "  log_level = \"debug\"; workers = 4; shutdown_grace = 5; };\n"
        "ldap = { uris = [\"ldaps://a.example/\", \"ldap://b.example:389/\", \"ldapi:///\"];\n"
        "  bind_dn = \"cn=x,dc=example\"; bind_password = \"pw\"; base = \"dc=example\";\n"
        "  profile = \"active-directory\"; connect_timeout = 2; timeout = 7; pool_size = 8;\n"
        "  starttls = \"require\"; ca_file = \"/etc/ca.pem\"; verify_cert = false; };\n"
        "tls = { cert_file = \"/c.pem\"; key_file = \"/k.pem\"; ca_file = \"/ca.pem\";\n"
        "  min_protocol = \"TLSv1.3\"; ciphers = \"HIGH\"; };\n"
        "services = ( { type = \"submissions\"; listen = \"127.0.0.1:4650\"; },\n"
        "  { type = \"lmtp\"; max_connections = 7; max_connections_per_ip = 3;\n"
        "    idle_timeout = 9; session_timeout = 99; },\n"
        "  { type = \"imap\"; name = \"imap-int\"; listen = [\"[::1]:1143\", \"10.0.0.1:143\"]; } "
        ");\n"
        "domains = { local = [\"Example.com\", \"b.example\"]; relay = \"partner.example\";\n"
        "  from_directory = true; };\n"
        "relay = { trusted_networks = [\"10.0.0.0/8\", \"2001:DB8::/32\", \"192.0.2.7\"]; };\n"
        "queue = { max_age = 3600; retry_min = 60; retry_max = 600; scan_interval = 5;\n"
        "  delivery_threads = 8; min_free = 8000000000L; delay_warning = 0;\n"
        "  bounce_size_limit = 1000; };\n"
        "cache = { positive_ttl = 0; negative_ttl = 5; auth_ttl = 3600; stale_ttl = 604800;\n"
        "  size = 10; };\n"
        "delivery = { mailbox_base = \"/srv/mail\"; sync_method = \"syncfs\"; };\n"
        "limits = { line_length = 1024; text_line_length = 2000; message_size = 5000000000L;\n"
        "  recipients = 100; errors = 3; max_connections = 50; pregreet_pass_ttl = 0;\n"
        "  message_nul = \"strip\"; header_max_size = 2048; header_max_count = 10; };\n"
        "sasl = { mechanisms = [\"login\", \"X-Mech_2\"]; allow_authzid = true;\n"
        "  plaintext_without_tls = true; sender_login_check = false;\n"
        "  authenticated_header = true; };\n");
    ck_assert_str_eq(conf->server.hostname, "mx1.example.com");
    ck_assert_str_eq(conf->server.user, "mail");
    ck_assert_str_eq(conf->server.state_dir, "/srv/dirmail");
    ck_assert_int_eq(conf->server.log_target, LOG_TARGET_STDERR);
    ck_assert_int_eq(conf->server.log_level, LOG_LEVEL_DEBUG);
    ck_assert_uint_eq(conf->server.workers, 4);
    ck_assert_uint_eq(conf->ldap.uri_count, 3);
    ck_assert_str_eq(conf->ldap.uris[2], "ldapi:///");
    ck_assert_str_eq(conf->ldap.bind_password, "pw");
    ck_assert_str_eq(conf->ldap.profile, "active-directory");
    ck_assert_int_eq(conf->ldap.starttls, LDAP_STARTTLS_REQUIRE);
    ck_assert(!conf->ldap.verify_cert);
    ck_assert_uint_eq(conf->ldap.pool_size, 8);
    ck_assert_str_eq(conf->tls.min_protocol, "TLSv1.3");
    ck_assert_str_eq(conf->tls.ciphers, "HIGH");
    ck_assert_uint_eq(conf->service_count, 3);
    ck_assert_str_eq(conf->services[0].name, "submissions");
    ck_assert(config_service_implicit_tls(conf->services[0].type));
    ck_assert_uint_eq(conf->services[0].listen[0].port, 4650);
    /* lmtp without listen: the UNIX socket in the state folder, no TCP
     * client trusted, the socket's mode 0660 */
    ck_assert(config_listen_is_unix(&conf->services[1].listen[0]));
    ck_assert_ptr_nonnull(strstr(conf->services[1].listen[0].host, "/lmtp.sock"));
    ck_assert_uint_eq(conf->services[1].listen[0].port, 0);
    ck_assert_uint_eq(conf->services[1].trusted_network_count, 0);
    ck_assert_uint_eq(conf->services[1].socket_mode, 0660);
    ck_assert_uint_eq(conf->services[1].max_connections, 7);
    ck_assert_uint_eq(conf->services[1].max_connections_per_ip, 3);
    ck_assert_uint_eq(conf->services[1].idle_timeout, 9);
    ck_assert_uint_eq(conf->services[1].session_timeout, 99);
    ck_assert_str_eq(conf->services[2].name, "imap-int");
    ck_assert_str_eq(config_service_type_name(conf->services[2].type), "imap");
    ck_assert_uint_eq(conf->services[2].listen_count, 2);
    ck_assert_str_eq(conf->domains.local[0], "example.com");
    ck_assert_uint_eq(conf->domains.relay_count, 1);
    ck_assert(conf->domains.from_directory);
    ck_assert_str_eq(conf->relay.trusted_networks[1], "2001:db8::/32");
    ck_assert_str_eq(conf->relay.trusted_networks[2], "192.0.2.7/32");
    ck_assert_uint_eq(conf->queue.retry_max, 600);
    ck_assert_uint_eq(conf->queue.scan_interval, 5);
    ck_assert_uint_eq(conf->queue.delay_warning, 0);
    ck_assert_uint_eq(conf->queue.bounce_size_limit, 1000);
    ck_assert_uint_eq(conf->queue.delivery_threads, 8);
    ck_assert_uint_eq(conf->queue.min_free, 8000000000ull);
    ck_assert_uint_eq(conf->cache.positive_ttl, 0);
    ck_assert_uint_eq(conf->cache.negative_ttl, 5);
    ck_assert_uint_eq(conf->cache.auth_ttl, 3600);
    ck_assert_uint_eq(conf->cache.stale_ttl, 604800);
    ck_assert_uint_eq(conf->cache.size, 10);
    ck_assert_str_eq(conf->delivery.mailbox_base, "/srv/mail");
    ck_assert_int_eq(conf->delivery.sync_method, DELIVERY_SYNC_SYNCFS);
    ck_assert_uint_eq(conf->limits.message_size, 5000000000ULL);
    ck_assert_uint_eq(conf->limits.errors, 3);
    ck_assert_uint_eq(conf->limits.pregreet_pass_ttl, 0);
    ck_assert_int_eq(conf->limits.message_nul, MESSAGE_NUL_STRIP);
    ck_assert_uint_eq(conf->limits.header_max_size, 2048);
    ck_assert_uint_eq(conf->limits.header_max_count, 10);
    ck_assert_uint_eq(conf->sasl.mechanism_count, 2);
    ck_assert_str_eq(conf->sasl.mechanisms[0], "LOGIN");
    ck_assert_str_eq(conf->sasl.mechanisms[1], "X-MECH_2");
    ck_assert(conf->sasl.allow_authzid);
    ck_assert(conf->sasl.plaintext_without_tls);
    ck_assert(!conf->sasl.sender_login_check);
    ck_assert(conf->sasl.authenticated_header);
    config_free(&conf);

    /* An empty list turns SASL off. */
    conf = load_ok("sasl = { mechanisms = []; };\n");
    ck_assert_uint_eq(conf->sasl.mechanism_count, 0);
    config_free(&conf);
}
END_TEST

/* listen_one - the single listen address of a one-service config. */
static void listen_one(const char *spec, const char *host, unsigned port)
{
    char text[256];
    int n = snprintf(text, sizeof text, "services = ( { type = \"smtp\"; listen = \"%s\"; } );\n",
                     spec);
    ck_assert(n > 0 && (size_t)n < sizeof text);
    struct config *conf = load_ok(text);
    ck_assert_str_eq(conf->services[0].listen[0].host, host);
    ck_assert_uint_eq(conf->services[0].listen[0].port, port);
    config_free(&conf);
}

static void listen_bad(const char *spec, const char *what)
{
    char text[256];
    int n = snprintf(
        text, sizeof text,
        "# a comment\nservices = (\n  { type = \"smtp\";\n    listen = [ \"%s\" ]; }\n);\n", spec);
    ck_assert(n > 0 && (size_t)n < sizeof text);
    expect_error(text, 4, "services.[0].listen.[0]", what);
}

START_TEST(listen_parsing)
{
    listen_one("*:25", "*", 25);
    listen_one("[::1]:587", "::1", 587);
    listen_one("[0:0::1]:587", "::1", 587);
    listen_one("127.0.0.1:2525", "127.0.0.1", 2525);
    listen_one("[::]:65535", "::", 65535);
    listen_bad("127.0.0.1:0", "port must be");
    listen_bad("127.0.0.1:65536", "port must be");
    listen_bad("127.0.0.1:", "port must be");
    listen_bad("127.0.0.1:25x", "port must be");
    listen_bad("127.0.0.1:-1", "port must be");
    listen_bad("127.0.0.1", "ADDRESS:PORT");
    listen_bad("25", "ADDRESS:PORT");
    listen_bad(":25", "no valid address");
    listen_bad("mail.example.com:25", "not an IPv4 address");
    listen_bad("256.0.0.1:25", "not an IPv4 address");
    listen_bad("::1:25", "in brackets");
    listen_bad("[127.0.0.1]:25", "not an IPv6 address");
    listen_bad("[*]:25", "not an IPv6 address");
}
END_TEST

START_TEST(password_file)
{
    char pw[256];
    snprintf(pw, sizeof pw, "%s", write_file("secret", "s3cret\n", 0600));
    char text[512];
    int n = snprintf(text, sizeof text,
                     "ldap = { bind_dn = \"cn=x\"; bind_password_file = \"%s\"; };\n", pw);
    ck_assert(n > 0 && (size_t)n < sizeof text);
    struct config *conf = load_ok(text);
    ck_assert_str_eq(conf->ldap.bind_password, "s3cret");
    ck_assert_str_eq(conf->ldap.bind_password_file, pw);
    char *printed = print_to_string(conf);
    ck_assert_ptr_null(strstr(printed, "s3cret"));
    free(printed);
    config_free(&conf);

    /* only one newline is stripped; a world-readable file still loads (warning) */
    write_file("secret", "two\n\n", 0644);
    conf = load_ok(text);
    ck_assert_str_eq(conf->ldap.bind_password, "two\n");
    config_free(&conf);

    write_file("secret", "\n", 0600);
    expect_error(text, 1, "ldap.bind_password_file", "is empty");
    ck_assert_int_eq(unlink(pw), 0);
    expect_error(text, 1, "ldap.bind_password_file", "No such file");
}
END_TEST

/* queue.min_free: 1.5 x limits.message_size unless set (whatever order the
 * sections come in), 0 turns the check off, and a reserve below one
 * message of the largest size is refused. */
START_TEST(queue_min_free)
{
    struct config *conf = load_ok("queue = { retry_min = 60; };\n"
                                  "limits = { message_size = 1048576; };\n");
    ck_assert_uint_eq(conf->queue.min_free, 1572864);
    config_free(&conf);
    conf = load_ok("limits = { message_size = 4294967296L; };\n");
    ck_assert_uint_eq(conf->queue.min_free, 6442450944ull);
    config_free(&conf);
    conf = load_ok("queue = { min_free = 0; };\n");
    ck_assert_uint_eq(conf->queue.min_free, 0);
    config_free(&conf);
    conf = load_ok("queue = { min_free = 10485760; };\nlimits = { message_size = 10485760; };\n");
    ck_assert_uint_eq(conf->queue.min_free, 10485760);
    char *printed = print_to_string(conf);
    ck_assert_ptr_nonnull(strstr(printed, "  min_free = 10485760;\n"));
    free(printed);
    config_free(&conf);
    expect_error("queue = {\n min_free = 1000;\n};\n", 2, "queue.min_free",
                 "must be 0 or at least limits.message_size (52428800)");
    expect_error("queue = { min_free = -1; };\n", 1, "queue.min_free", "between 0 and");
    expect_error("queue = { min_free = \"1G\"; };\n", 1, "queue.min_free", "must be an integer");
}
END_TEST

START_TEST(print_round_trip)
{
    const char *text =
        "ldap = { bind_dn = \"cn=a \\\"q\\\\\"; bind_password = \"p\\\"w\"; base = \"dc=x\"; };\n"
        "tls = { cert_file = \"/c\"; key_file = \"/k\"; };\n"
        "services = ( { type = \"pop3s\"; listen = [\"[::1]:995\", \"*:1995\"]; },\n"
        "  { type = \"smtp\"; name = \"mx\"; } );\n"
        "domains = { local = [\"a.example\"]; };\n"
        "limits = { message_size = 4294967296L; };\n"
        "sasl = { mechanisms = \"LOGIN\"; plaintext_without_tls = true; };\n";
    struct config *conf = load_ok(text);
    char *first = print_to_string(conf);
    ck_assert_ptr_nonnull(strstr(first, "bind_password = \"<hidden>\";"));
    ck_assert_ptr_null(strstr(first, "p\\\"w"));
    config_free(&conf);

    /* Substitute the real password: the printed text must load and print the same. */
    char *second_in = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&second_in, &len);
    ck_assert_ptr_nonnull(f);
    const char *mark = strstr(first, "\"<hidden>\"");
    fwrite(first, 1, (size_t)(mark - first), f);
    fputs("\"p\\\"w\"", f);
    fputs(mark + strlen("\"<hidden>\""), f);
    ck_assert_int_eq(fclose(f), 0);
    conf = load_ok(second_in);
    ck_assert_str_eq(conf->ldap.bind_password, "p\"w");
    ck_assert_str_eq(conf->ldap.bind_dn, "cn=a \"q\\");
    ck_assert_uint_eq(conf->sasl.mechanism_count, 1);
    ck_assert(conf->sasl.plaintext_without_tls);
    char *second = print_to_string(conf);
    ck_assert_str_eq(first, second);
    config_free(&conf);

    /* The defaults round-trip too. */
    conf = load_ok("");
    char *third = print_to_string(conf);
    config_free(&conf);
    conf = load_ok(third);
    char *fourth = print_to_string(conf);
    ck_assert_str_eq(third, fourth);
    config_free(&conf);
    free(first);
    free(second_in);
    free(second);
    free(third);
    free(fourth);
}
END_TEST

START_TEST(error_syntax)
{
    char *error = NULL;
    struct config *conf = load_text("server = {\n  user = \"x\";\n  group = ;\n};\n", &error);
    ck_assert_ptr_null(conf);
    char want[128];
    snprintf(want, sizeof want, "%s/dirmail.conf:3: ", tmpdir);
    ck_assert_msg(strncmp(error, want, strlen(want)) == 0, "%s", error);
    ck_assert_ptr_nonnull(strstr(error, "syntax error"));
    free(error);

    conf = config_load("/nonexistent/dirmail.conf", &error);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(error, "/nonexistent/dirmail.conf: cannot read"));
    free(error);
}
END_TEST

START_TEST(error_unknown)
{
    expect_error("\nsmtp = { };\n", 2, "smtp", "unknown section");
    expect_error("server = {\n  user = \"x\";\n  usr = \"y\";\n};\n", 3, "server.usr",
                 "unknown setting");
    expect_error(
        "services = (\n { type = \"smtp\"; },\n { type = \"lmtp\";\n   maxconn = 1; }\n);\n", 4,
        "services.[1].maxconn", "unknown setting");
    expect_error("limits = 5;\n", 1, "limits", "must be a group");
    expect_error("sasl = {\n  allow_proxy = true;\n};\n", 2, "sasl.allow_proxy", "unknown setting");
}
END_TEST

/* An lmtp service: UNIX socket listen entries with their owner and mode,
 * its own trusted_networks; the other services have none of these. */
START_TEST(lmtp_service_settings)
{
    struct config *conf =
        load_ok("services = ( { type = \"lmtp\"; listen = [ \"/run/dirmail/lmtp.sock\", "
                "\"127.0.0.1:24\" ];\n"
                "  trusted_networks = [ \"192.0.2.0/24\", \"::1\" ]; socket_user = \"postfix\";\n"
                "  socket_group = \"mail\"; socket_mode = \"0600\"; } );\n"
                "delivery = { quota_permanent = true; };\n");
    const struct config_service *l = &conf->services[0];
    ck_assert_uint_eq(l->listen_count, 2);
    ck_assert(config_listen_is_unix(&l->listen[0]));
    ck_assert_str_eq(l->listen[0].host, "/run/dirmail/lmtp.sock");
    ck_assert(!config_listen_is_unix(&l->listen[1]));
    ck_assert_uint_eq(l->trusted_network_count, 2);
    ck_assert_str_eq(l->trusted_networks[0], "192.0.2.0/24");
    ck_assert_str_eq(l->socket_user, "postfix");
    ck_assert_str_eq(l->socket_group, "mail");
    ck_assert_uint_eq(l->socket_mode, 0600);
    ck_assert(conf->delivery.quota_permanent);
    char *printed = print_to_string(conf);
    ck_assert_ptr_nonnull(strstr(printed, "\"/run/dirmail/lmtp.sock\", \"127.0.0.1:24\""));
    ck_assert_ptr_nonnull(strstr(printed, "socket_mode = \"0600\";"));
    free(printed);
    config_free(&conf);

    expect_error("services = ( { type = \"smtp\";\n trusted_networks = [ \"10.0.0.0/8\" ]; } );\n",
                 2, "services.[0].trusted_networks", "only an lmtp service");
    expect_error("services = ( { type = \"smtp\";\n listen = [ \"/tmp/smtp.sock\" ]; } );\n", 2,
                 "services.[0].listen.[0]", "only an lmtp service listens on a UNIX socket");
    expect_error("services = ( { type = \"lmtp\";\n socket_mode = \"0999\"; } );\n", 2,
                 "services.[0].socket_mode", "octal mode");
    expect_error("services = ( { type = \"lmtp\";\n trusted_networks = [ \"10.1.2.3/8\" ]; } );\n",
                 2, "services.[0].trusted_networks.[0]", "");
    expect_error("services = ( { type = \"lmtp\"; listen = [ \"/a\" ]; },\n"
                 " { type = \"lmtp\"; name = \"l2\"; listen = [ \"/a\" ]; } );\n",
                 2, "services.[1].listen.[0]", "overlaps");
}
END_TEST

START_TEST(error_type)
{
    expect_error("server = {\n workers = \"4\";\n};\n", 2, "server.workers", "must be an integer");
    expect_error("server = { user = 5; };\n", 1, "server.user", "must be a string");
    expect_error("ldap = {\n\n verify_cert = \"yes\"; };\n", 3, "ldap.verify_cert",
                 "true or false");
    expect_error("ldap = { uris = [ 1 ]; };\n", 1, "ldap.uris.[0]", "must be a string");
    expect_error("limits = { errors = 2.5; };\n", 1, "limits.errors", "must be an integer");
    expect_error("sasl = { allow_authzid = 1; };\n", 1, "sasl.allow_authzid", "true or false");
    expect_error("sasl = { mechanisms = [ 1 ]; };\n", 1, "sasl.mechanisms.[0]", "must be a string");
    expect_error("services = { type = \"smtp\"; };\n", 1, "services", "must be a list");
    expect_error("server = { pid_file = \"run/d.pid\"; };\n", 1, "server.pid_file",
                 "absolute path");
}
END_TEST

START_TEST(error_range)
{
    expect_error("services = (\n { type = \"smtp\"; },\n { type = \"imap\";\n"
                 "   max_connections = 100001; }\n);\n",
                 4, "services.[1].max_connections", "must be between 1 and 100000");
    expect_error("limits = { line_length = 100; };\n", 1, "limits.line_length",
                 "must be between 512 and 65536");
    expect_error("limits = {\n pregreet_pass_ttl = 2592001;\n};\n", 2, "limits.pregreet_pass_ttl",
                 "must be between 0 and 2592000");
    expect_error("server = {\n restart_delay_max = 50;\n};\n", 2, "server.restart_delay_max",
                 "must be between 100 and 600000");
    expect_error("ldap = { pool_size = 0; };\n", 1, "ldap.pool_size", "between 1 and 64");
    expect_error("server = { workers = -1; };\n", 1, "server.workers", "between 0 and 256");
    expect_error("queue = {\n retry_min = 600;\n retry_max = 60;\n};\n", 3, "queue.retry_max",
                 "must not be less than");
    expect_error("cache = {\n auth_ttl = 3601;\n};\n", 2, "cache.auth_ttl",
                 "must be between 0 and 3600");
    expect_error("cache = { size = -1; };\n", 1, "cache.size", "between 0 and 10000000");
    expect_error("cache = {\n stale = 5;\n};\n", 2, "cache.stale", "unknown");
}
END_TEST

START_TEST(error_enum)
{
    expect_error("services = ( { type = \"smtps\"; } );\n", 1, "services.[0].type",
                 "\"smtps\" is not one of: smtp, submission");
    expect_error("ldap = {\n profile = \"openldap\"; };\n", 2, "ldap.profile", "is not one of");
    expect_error("ldap = { starttls = \"yes\"; };\n", 1, "ldap.starttls", "no, try, require");
    expect_error("server = { log = \"file\"; };\n", 1, "server.log", "stderr, syslog");
    expect_error("server = { log_level = \"notice\"; };\n", 1, "server.log_level", "is not one");
    expect_error("tls = { min_protocol = \"TLSv1.1\"; };\n", 1, "tls.min_protocol",
                 "TLSv1.2, TLSv1.3");
    expect_error("services = ( { name = \"x\"; } );\n", 1, "services.[0]", "type is missing");
}
END_TEST

START_TEST(error_duplicates)
{
    expect_error("services = (\n { type = \"smtp\"; listen = \"*:25\"; },\n"
                 " { type = \"smtp\"; listen = \"*:2525\"; }\n);\n",
                 3, "services.[1].type", "service name \"smtp\" is already used");
    expect_error("services = (\n { type = \"smtp\"; listen = \"*:25\"; },\n"
                 " { type = \"smtp\"; name = \"mx2\";\n   listen = [ \"127.0.0.1:26\",\n"
                 "     \"127.0.0.1:25\" ]; }\n);\n",
                 5, "services.[1].listen.[1]", "overlaps \"*\" port 25");
    expect_error("services = ( { type = \"imap\"; listen = [\"[::1]:143\", \"[0::1]:143\"]; } );\n",
                 1, "services.[0].listen.[1]", "overlaps");
    expect_error("domains = { local = [\"a.example\", \"A.Example\"]; };\n", 1, "domains.local.[1]",
                 "listed twice");
    expect_error("domains = { local = [\"a.example\"];\n relay = [\"a.example\"]; };\n", 2,
                 "domains.relay.[0]", "also in domains.local");
    expect_error("sasl = {\n mechanisms = [\"PLAIN\", \"plain\"]; };\n", 2, "sasl.mechanisms.[1]",
                 "listed twice");
}
END_TEST

START_TEST(error_tls)
{
    expect_error("services = (\n { type = \"smtp\"; },\n { type = \"imaps\"; }\n);\n", 3,
                 "services.[1].type", "needs tls.cert_file and tls.key_file");
    expect_error("tls = {\n cert_file = \"/c.pem\";\n};\n", 2, "tls.cert_file",
                 "tls.key_file must be set");
    expect_error("tls = { key_file = \"/k.pem\"; };\n", 1, "tls.key_file",
                 "tls.cert_file must be set");
}
END_TEST

START_TEST(error_ldap)
{
    expect_error("ldap = {\n bind_dn = \"cn=x\";\n bind_password = \"a\";\n"
                 " bind_password_file = \"/etc/x\";\n};\n",
                 4, "ldap.bind_password_file", "mutually exclusive");
    expect_error("ldap = { uris = [ \"ldap://a/\",\n \"http://b/\" ]; };\n", 2, "ldap.uris.[1]",
                 "must start with ldap://");
    expect_error("ldap = { uris = \"ldap:/a\"; };\n", 1, "ldap.uris", "must start with");
    expect_error("ldap = { uris = []; };\n", 1, "ldap.uris", "at least one");
    expect_error("ldap = { bind_password = \"x\"; };\n", 1, "ldap.bind_password",
                 "needs ldap.bind_dn");
    expect_error("ldap = { bind_dn = \"cn=x\"; bind_password = \"\"; };\n", 1, "ldap.bind_password",
                 "unauthenticated bind");
}
END_TEST

START_TEST(error_cidr)
{
    expect_error("relay = {\n trusted_networks = [ \"10.0.0.0/8\", \"10.0.0.0/33\" ]; };\n", 2,
                 "relay.trusted_networks.[1]", "between 0 and 32");
    expect_error("relay = { trusted_networks = \"10.1.0.0/8\"; };\n", 1, "relay.trusted_networks",
                 "host bits");
    expect_error("relay = { trusted_networks = \"::1/129\"; };\n", 1, "relay.trusted_networks",
                 "between 0 and 128");
    expect_error("relay = { trusted_networks = \"10.0.0.0/\"; };\n", 1, "relay.trusted_networks",
                 "prefix length");
    expect_error("relay = { trusted_networks = \"10.0.0/8\"; };\n", 1, "relay.trusted_networks",
                 "not an IPv4 or IPv6");
    expect_error("relay = { trusted_networks = \"10.0.0.0/8x\"; };\n", 1, "relay.trusted_networks",
                 "prefix length");
    struct config *conf = load_ok("relay = { trusted_networks = [\"0.0.0.0/0\", \"::/0\"]; };\n");
    ck_assert_str_eq(conf->relay.trusted_networks[0], "0.0.0.0/0");
    config_free(&conf);
}
END_TEST

/* The header fields and Maildir names are built for a hostname of at most
 * 253 octets in labels of at most 63 (RFC 1035 2.3.4): the loader holds it
 * there. */
START_TEST(hostname_length_bound)
{
    char host[300], text[400];
    memset(host, 'a', sizeof host);
    for (size_t i = 63; i < sizeof host; i += 64)
        host[i] = '.';
    host[253] = '\0';
    snprintf(text, sizeof text, "server = { hostname = \"%s\"; };\n", host);
    struct config *conf = load_ok(text);
    ck_assert_uint_eq(strlen(conf->server.hostname), 253);
    config_free(&conf);
    host[253] = 'a';
    host[254] = '\0';
    snprintf(text, sizeof text, "server = { hostname = \"%s\"; };\n", host);
    expect_error(text, 1, "server.hostname", "1 to 253 characters");
    memset(host, 'a', 64);
    strcpy(host + 64, ".example");
    snprintf(text, sizeof text, "server = { hostname = \"%s\"; };\n", host);
    expect_error(text, 1, "server.hostname", "bad label");
}
END_TEST

START_TEST(error_domain)
{
    expect_error("domains = { local = \"exa mple.com\"; };\n", 1, "domains.local",
                 "not a domain name");
    expect_error("domains = { local = \"-a.example\"; };\n", 1, "domains.local", "bad label");
    expect_error("domains = { local = \"a..example\"; };\n", 1, "domains.local", "bad label");
    expect_error("server = { hostname = \"mx_1\"; };\n", 1, "server.hostname", "not a domain name");
    expect_error("services = ( { type = \"smtp\"; name = \"my smtp\"; } );\n", 1,
                 "services.[0].name", "letters, digits");
    expect_error("sasl = { mechanisms = [\"PLAIN\", \"DIGEST MD5\"]; };\n", 1,
                 "sasl.mechanisms.[1]", "not a SASL mechanism name (character ' ')");
    expect_error("sasl = { mechanisms = \"\"; };\n", 1, "sasl.mechanisms",
                 "not a SASL mechanism name (1 to 20");
    expect_error("sasl = { mechanisms = \"ABCDEFGHIJKLMNOPQRSTU\"; };\n", 1, "sasl.mechanisms",
                 "1 to 20");
}
END_TEST

/* attribute_index - where name is in config_ldap_attribute_names. */
static size_t attribute_index(const char *name)
{
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++) {
        if (strcmp(config_ldap_attribute_names[i], name) == 0)
            return i;
    }
    ck_abort_msg("no attribute %s", name);
    return 0;
}

START_TEST(ldap_directory_settings)
{
    const char *text =
        "ldap = {\n"
        "  pool_size = 3; timeout = 7;\n"
        "  subaddress_delimiter = \"-+\";\n"
        "  case_sensitive_local_part = true;\n"
        "  disabled_policy = \"hold\";\n"
        "  group_max_depth = 2; group_max_members = 50;\n"
        "  failback_interval = 5; domain_cache_ttl = 0;\n"
        "  attributes = { mail = \"otherMail\"; alias = \"\"; unique_member = \"2.5.4.50\"; };\n"
        "  filters = { recipient = \"(&(objectClass=x)(|(otherMail=%s)(cn=%u+%d)))\";\n"
        "              login = \"(uid=%l)\"; domain = \"\"; group = \"(a=\\\\28%%\\\\29)\"; };\n"
        "  group_classes = \"groupOfNames  posixGroup\";\n"
        "  catchall = \"catchall@%d\"; status_style = \"qmail\"; keep_style = \"never\";\n"
        "  proxy_addresses = false;\n"
        "};\n"
        "domains = { relay = ( \"plain.example\",\n"
        "  { domain = \"Partner.Example\"; next_hop = \"[mx.partner.example]:2525\"; },\n"
        "  { domain = \"lmtp.example\"; next_hop = \"lmtp:[192.0.2.1]:24\"; },\n"
        "  { domain = \"v6.example\"; next_hop = \"[ipv6:2001:db8::1]\"; },\n"
        "  { domain = \"mx.example\"; next_hop = \"relay.example.net\"; } ); };\n";
    struct config *conf = load_ok(text);
    const struct config_ldap *l = &conf->ldap;
    ck_assert_str_eq(l->subaddress_delimiter, "-+");
    ck_assert(l->case_sensitive_local_part);
    ck_assert_int_eq(l->disabled_policy, LDAP_DISABLED_HOLD);
    ck_assert_uint_eq(l->group_max_depth, 2);
    ck_assert_uint_eq(l->group_max_members, 50);
    /* Unset, these two follow pool_size and timeout. */
    ck_assert_uint_eq(l->auth_pool_size, 3);
    ck_assert_uint_eq(l->pool_wait, 7);
    ck_assert_uint_eq(l->failback_interval, 5);
    ck_assert_uint_eq(l->domain_cache_ttl, 0);
    ck_assert_str_eq(l->attributes[attribute_index("mail")], "otherMail");
    ck_assert_str_eq(l->attributes[attribute_index("alias")], "");
    ck_assert_str_eq(l->attributes[attribute_index("unique_member")], "2.5.4.50");
    ck_assert_ptr_null(l->attributes[attribute_index("quota")]);
    ck_assert_str_eq(l->filters[0], "(&(objectClass=x)(|(otherMail=%s)(cn=%u+%d)))");
    ck_assert_str_eq(l->filters[1], "(uid=%l)");
    ck_assert_str_eq(l->filters[2], "(a=\\28%%\\29)");
    ck_assert_str_eq(l->filters[3], "");
    ck_assert_str_eq(l->group_classes, "groupOfNames  posixGroup");
    ck_assert_str_eq(l->catchall, "catchall@%d");
    ck_assert_str_eq(l->status_style, "qmail");
    ck_assert_str_eq(l->keep_style, "never");
    ck_assert_int_eq(l->proxy_addresses, 0);
    const struct config_domains *d = &conf->domains;
    ck_assert_uint_eq(d->relay_count, 5);
    ck_assert_str_eq(d->relay[0], "plain.example");
    ck_assert_ptr_null(d->relay_next_hop[0]);
    ck_assert_str_eq(d->relay[1], "partner.example");
    ck_assert_str_eq(d->relay_next_hop[1], "[mx.partner.example]:2525");
    ck_assert_str_eq(d->relay_next_hop[2], "lmtp:[192.0.2.1]:24");
    ck_assert_str_eq(d->relay_next_hop[3], "[ipv6:2001:db8::1]");
    ck_assert_str_eq(d->relay_next_hop[4], "relay.example.net");

    /* Everything prints and reads back the same. */
    char *first = print_to_string(conf);
    ck_assert_ptr_nonnull(strstr(first, "    mail = \"otherMail\";\n"));
    ck_assert_ptr_nonnull(strstr(first, "# quota: not set (the profile's)"));
    ck_assert_ptr_nonnull(strstr(first, "{ domain = \"partner.example\"; next_hop = "));
    config_free(&conf);
    conf = load_ok(first);
    char *second = print_to_string(conf);
    ck_assert_str_eq(first, second);
    config_free(&conf);
    free(first);
    free(second);

    /* Explicit values win over the settings they default to. */
    conf = load_ok("ldap = { auth_pool_size = 9; pool_wait = 1; subaddress_delimiter = \"\"; };\n"
                   "domains = { relay = \"one.example\"; };\n");
    ck_assert_uint_eq(conf->ldap.auth_pool_size, 9);
    ck_assert_uint_eq(conf->ldap.pool_wait, 1);
    ck_assert_str_eq(conf->ldap.subaddress_delimiter, "");
    ck_assert_uint_eq(conf->domains.relay_count, 1);
    ck_assert_ptr_null(conf->domains.relay_next_hop[0]);
    config_free(&conf);
}
END_TEST

START_TEST(error_ldap_directory)
{
    expect_error("ldap = {\n attributes = {\n  mail = \"m\";\n  mial = \"x\";\n };\n};\n", 4,
                 "ldap.attributes.mial", "unknown name (known: mail, alias, login");
    expect_error(
        "ldap = {\n filters = { recipient = \"(mail=%s)\";\n  logon = \"(uid=%l)\"; };\n};\n", 3,
        "ldap.filters.logon", "unknown name (known: recipient, login, group, domain)");
    expect_error("ldap = { attributes = \"mail\"; };\n", 1, "ldap.attributes", "must be a group");
    expect_error("ldap = { attributes = { mail = \"1mail\"; }; };\n", 1, "ldap.attributes.mail",
                 "not an attribute name");
    expect_error("ldap = { attributes = { mail = \"mail attr\"; }; };\n", 1, "ldap.attributes.mail",
                 "not an attribute name");
    expect_error("ldap = { attributes = { mail = 5; }; };\n", 1, "ldap.attributes.mail",
                 "must be a string");
    expect_error("ldap = {\n\n filters = { recipient = \"(|(mail=%s)(alias=%s)\"; }; };\n", 3,
                 "ldap.filters.recipient", "unbalanced parentheses (1 left open)");
    expect_error("ldap = { filters = { login = \"(uid=%l))\"; }; };\n", 1, "ldap.filters.login",
                 "unbalanced parentheses");
    expect_error("ldap = { filters = { login = \"(uid=%l)(cn=%l)\"; }; };\n", 1,
                 "ldap.filters.login", "text after the closing");
    expect_error("ldap = { filters = { login = \"uid=%l\"; }; };\n", 1, "ldap.filters.login",
                 "starts with '('");
    expect_error("ldap = { filters = { login = \"(uid=%x)\"; }; };\n", 1, "ldap.filters.login",
                 "unknown escape \"%x\" (known: %s %u %d %l %%)");
    expect_error("ldap = { filters = { login = \"(uid=%)\"; }; };\n", 1, "ldap.filters.login",
                 "unknown escape");
    expect_error("ldap = { filters = { login = \"(uid=%\"; }; };\n", 1, "ldap.filters.login",
                 "unknown escape");
    expect_error("ldap = { catchall = \"%u@%d\"; };\n", 1, "ldap.catchall",
                 "unknown escape \"%u\" (known: %d %%)");
    expect_error("ldap = { catchall = \"catchall\"; };\n", 1, "ldap.catchall", "address form");
    expect_error("ldap = { group_classes = \"groupOfNames group_of\"; };\n", 1,
                 "ldap.group_classes", "\"group_of\" is not an objectClass name");
    expect_error("ldap = {\n status_style = \"ad-uac\"; };\n", 2, "ldap.status_style",
                 "\"ad-uac\" is not one of: none, dirmail, qmail, ad");
    expect_error("ldap = { keep_style = \"always\"; };\n", 1, "ldap.keep_style",
                 "never, boolean, qmail");
    expect_error("ldap = { proxy_addresses = \"yes\"; };\n", 1, "ldap.proxy_addresses",
                 "true or false");
    expect_error("ldap = {\n disabled_policy = \"bounce\"; };\n", 2, "ldap.disabled_policy",
                 "reject, hold");
    expect_error("limits = { message_nul = \"drop\"; };\n", 1, "limits.message_nul",
                 "\"drop\" is not one of: reject, strip, accept");
    expect_error("limits = { header_max_size = 100; };\n", 1, "limits.header_max_size",
                 "between 1024 and");
    expect_error("limits = { header_max_count = 0; };\n", 1, "limits.header_max_count",
                 "between 10 and 1000000");
    expect_error("ldap = { case_sensitive_local_part = 1; };\n", 1,
                 "ldap.case_sensitive_local_part", "true or false");
    expect_error("ldap = { subaddress_delimiter = \"+.\"; };\n", 1, "ldap.subaddress_delimiter",
                 "'.' cannot be a sub-address delimiter");
    expect_error("ldap = { subaddress_delimiter = \"a\"; };\n", 1, "ldap.subaddress_delimiter",
                 "cannot be");
    expect_error("ldap = { subaddress_delimiter = \"++\"; };\n", 1, "ldap.subaddress_delimiter",
                 "listed twice");
    expect_error("ldap = { subaddress_delimiter = 1; };\n", 1, "ldap.subaddress_delimiter",
                 "must be a string");
    expect_error("ldap = {\n group_max_depth = 0; };\n", 2, "ldap.group_max_depth",
                 "between 1 and 64");
    expect_error("ldap = { group_max_depth = 65; };\n", 1, "ldap.group_max_depth",
                 "between 1 and 64");
    expect_error("ldap = { group_max_members = 100001; };\n", 1, "ldap.group_max_members",
                 "between 1 and 100000");
    expect_error("ldap = { auth_pool_size = 0; };\n", 1, "ldap.auth_pool_size", "between 1 and 64");
    expect_error("ldap = { pool_wait = 301; };\n", 1, "ldap.pool_wait", "between 1 and 300");
    expect_error("ldap = { failback_interval = 0; };\n", 1, "ldap.failback_interval",
                 "between 1 and 86400");
    expect_error("ldap = { domain_cache_ttl = -1; };\n", 1, "ldap.domain_cache_ttl",
                 "between 0 and 86400");
    expect_error("ldap = { domain_cache_ttl = \"60\"; };\n", 1, "ldap.domain_cache_ttl",
                 "must be an integer");
}
END_TEST

/* verify = "next_hop": parsed, printed back, and refused where the probe
 * (in clear) would break the next hop's TLS policy or cannot speak SMTP. */
START_TEST(relay_verify)
{
    struct config *conf =
        load_ok("domains = { relay = ( { domain = \"v.example\"; next_hop = \"[192.0.2.7]:25\"; "
                "verify = \"next_hop\"; }, \"w.example\", { domain = \"x.example\"; verify = "
                "\"none\"; } ); };\nrelay = { verify_negative_ttl = 60; };\n");
    ck_assert(conf->domains.relay_verify[0]);
    ck_assert(!conf->domains.relay_verify[1]);
    ck_assert(!conf->domains.relay_verify[2]);
    ck_assert_uint_eq(conf->relay.verify_negative_ttl, 60);
    ck_assert_uint_eq(conf->relay.verify_positive_ttl, 7 * 86400);
    char *first = print_to_string(conf);
    ck_assert_ptr_nonnull(strstr(first, "next_hop = \"[192.0.2.7]:25\"; verify = \"next_hop\"; }"));
    config_free(&conf);
    conf = load_ok(first);
    char *second = print_to_string(conf);
    ck_assert_str_eq(first, second);
    free(first);
    free(second);
    config_free(&conf);
    expect_error("domains = { relay = ( { domain = \"v.example\"; verify = \"yes\"; } ); };\n", 1,
                 "domains.relay.[0].verify", "must be \"none\" or \"next_hop\"");
    expect_error(
        "domains = { relay = ( { domain = \"v.example\"; next_hop = \"lmtp:[192.0.2.1]:24\"; "
        "verify = \"next_hop\"; } ); };\n",
        1, "domains.relay.[0].verify", "cannot be verified");
    expect_error("domains = { relay = ( { domain = \"v.example\"; next_hop = \"[192.0.2.7]\"; "
                 "verify = \"next_hop\"; } ); };\nsmtp_client = { tls_security = \"encrypt\"; "
                 "tls_ca_file = \"/etc/ssl/certs/ca-certificates.crt\"; };\n",
                 1, "domains", "probes in clear");
}
END_TEST

START_TEST(error_relay_next_hop)
{
    expect_error("domains = { relay = (\n \"a.example\",\n { domain = \"b.example\"; nexthop = "
                 "\"x\"; } ); };\n",
                 3, "domains.relay.[1].nexthop",
                 "unknown setting (known: domain, next_hop, verify)");
    expect_error("domains = { relay = (\n { next_hop = \"[x.example]\"; } ); };\n", 2,
                 "domains.relay.[0]", "domain is missing");
    expect_error("domains = { relay = ( 5 ); };\n", 1, "domains.relay.[0]", "must be a domain");
    expect_error("domains = { relay = 5; };\n", 1, "domains.relay", "must be a domain or a list");
    expect_error("domains = { relay = ( { domain = \"b_x\"; } ); };\n", 1,
                 "domains.relay.[0].domain", "not a domain name");
    expect_error("domains = { relay = ( \"b.example\",\n { domain = \"B.example\"; } ); };\n", 2,
                 "domains.relay.[1].domain", "listed twice");
    expect_error(
        "domains = { local = \"b.example\";\n relay = ( { domain = \"b.example\"; } ); };\n", 2,
        "domains.relay.[0]", "also in domains.local");
    expect_error("domains = { relay = (\n { domain = \"b.example\";\n next_hop = "
                 "\"[mx.b.example\"; } ); };\n",
                 3, "domains.relay.[0].next_hop", "'[' without ']'");
    expect_error(
        "domains = { relay = ( { domain = \"b.example\"; next_hop = \"mx.b.example:0\"; } ); };\n",
        1, "domains.relay.[0].next_hop", "port must be a number from 1 to 65535");
    expect_error("domains = { relay = ( { domain = \"b.example\"; next_hop = \"[mx]x\"; } ); };\n",
                 1, "domains.relay.[0].next_hop", "port must be");
    expect_error("domains = { relay = ( { domain = \"b.example\"; next_hop = \"mx b\"; } ); };\n",
                 1, "domains.relay.[0].next_hop", "not a domain name");
    expect_error(
        "domains = { relay = ( { domain = \"b.example\"; next_hop = \"[ipv6:zz::1]\"; } ); };\n", 1,
        "domains.relay.[0].next_hop", "not an IPv6 address");
    expect_error("domains = { relay = ( { domain = \"b.example\"; next_hop = \"\"; } ); };\n", 1,
                 "domains.relay.[0].next_hop", "must not be empty");
    expect_error("domains = { relay = ( { domain = \"b.example\"; next_hop = \":25\"; } ); };\n", 1,
                 "domains.relay.[0].next_hop", "no host");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, sample_loads);
    tcase_add_test(tc, sections_parsed);
    tcase_add_test(tc, include_relative);
    tcase_add_test(tc, listen_parsing);
    tcase_add_test(tc, password_file);
    tcase_add_test(tc, queue_min_free);
    tcase_add_test(tc, print_round_trip);
    tcase_add_test(tc, error_syntax);
    tcase_add_test(tc, error_unknown);
    tcase_add_test(tc, error_type);
    tcase_add_test(tc, lmtp_service_settings);
    tcase_add_test(tc, error_range);
    tcase_add_test(tc, error_enum);
    tcase_add_test(tc, error_duplicates);
    tcase_add_test(tc, error_tls);
    tcase_add_test(tc, error_ldap);
    tcase_add_test(tc, error_cidr);
    tcase_add_test(tc, error_domain);
    tcase_add_test(tc, hostname_length_bound);
    tcase_add_test(tc, ldap_directory_settings);
    tcase_add_test(tc, error_ldap_directory);
    tcase_add_test(tc, error_relay_next_hop);
    tcase_add_test(tc, relay_verify);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(config_suite)
