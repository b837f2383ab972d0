/* tests/unit/test_sieve.c - delivery/sieve: a table of scripts x messages x
 * expected actions (every test, action and extension the engine has, the
 * examples of RFC 5228 section 9 and RFC 5230 section 4), the run-time
 * limits, vacation's once-per-period store, the compiled-script cache and
 * RFC 2047 decoding. Expected actions are sieve_result_format's lines.
 * Compile errors are in test_sieve_compile.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/sieve/sieve.h"
#include "delivery/sieve/sieve_cache.h"
#include "delivery/sieve/sieve_message.h"
#include "delivery/sieve/sieve_mime.h"
#include "delivery/sieve/sieve_vacation_store.h"
#include "tests/unit/tap_main.h"
#include "tests/unit/temp_dir.h"

static const char MSG_PLAIN[] =
    "Date: Mon, 7 Dec 2026 09:15:00 +0100\r\n"
    "From: Alice Example <alice@example.com>\r\n"
    "To: Me <me@example.org>, \"Team, Dev\" <dev+builds@example.org>\r\n"
    "Cc: carol@example.net (Carol)\r\n"
    "Subject: [acme-users] [fwd] version 1.0 is out\r\n"
    "Message-ID: <plain-1@example.com>\r\n"
    "X-Spam-Score: 7\r\n"
    "X-Spam-Score: 12\r\n"
    "X-Folded: one\r\n"
    "\ttwo\r\n"
    "\r\n"
    "Hello, see the MAKE MONEY FAST section.\r\n";

/* RFC 5228 section 9's message setting: a list message from the IETF list */
static const char MSG_LIST[] = "From: someone@imc.org\r\n"
                               "Sender: owner-ietf-mta-filters@imc.org\r\n"
                               "To: ietf-mta-filters@imc.org, me@example.org\r\n"
                               "Date: Tue, 8 Dec 2026 10:00:00 +0000\r\n"
                               "Subject: Re: sieve\r\n"
                               "List-Id: <ietf-mta-filters.imc.org>\r\n"
                               "\r\n"
                               "text\r\n";

static const char MSG_SPAM[] = "From: promo@spam.example\r\n"
                               "To: someone@elsewhere.example\r\n"
                               "Date: Tue, 8 Dec 2026 10:00:00 +0000\r\n"
                               "Subject: How to MAKE lots of MONEY very FAST\r\n"
                               "\r\n"
                               "buy\r\n";

static const char MSG_COMPANY[] = "From: Boss <boss@example.com>\r\n"
                                  "To: me@example.org\r\n"
                                  "Date: Tue, 8 Dec 2026 10:00:00 +0000\r\n"
                                  "Subject: lunch today?\r\n"
                                  "\r\n"
                                  "?\r\n";

static const char MSG_NODATE[] = "From: fool@example.com\r\n"
                                 "To: me@example.org\r\n"
                                 "Subject: no date\r\n"
                                 "\r\n"
                                 "x\r\n";

static const char MSG_MIME[] = "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\r\n"
                               "To: me@example.org\r\n"
                               "Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?IGF1IGxhaXQ=?=\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                               "\r\n"
                               "prologue\r\n"
                               "--b1\r\n"
                               "Content-Type: text/plain; charset=iso-8859-1\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n"
                               "\r\n"
                               "Le caf=E9 est pr=EAt.\r\n"
                               "--b1\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "\r\n"
                               "ZWxlcGhhbnQK\r\n"
                               "--b1--\r\n";

static const char MSG_BULK[] = "From: news@example.com\r\n"
                               "To: me@example.org\r\n"
                               "Precedence: bulk\r\n"
                               "Subject: news\r\n"
                               "\r\n"
                               "n\r\n";

static const char MSG_AUTO[] = "From: robot@example.com\r\n"
                               "To: me@example.org\r\n"
                               "Auto-Submitted: auto-generated\r\n"
                               "Subject: report\r\n"
                               "\r\n"
                               "r\r\n";

static const char MSG_AUTO_NO[] = "From: human@example.com\r\n"
                                  "To: me@example.org\r\n"
                                  "Auto-Submitted: no\r\n"
                                  "Subject: hi\r\n"
                                  "\r\n"
                                  "r\r\n";

static const char MSG_BCC[] = "From: friend@example.com\r\n"
                              "To: other@example.com\r\n"
                              "Subject: hi\r\n"
                              "\r\n"
                              "r\r\n";

struct run_case {
    const char *name;
    const char *script;
    const char *message;
    const char *from, *to; /* envelope */
    const char *expect;
};

#define ME "me@example.org"
#define ALICE "alice@example.com"
#define IK "keep\tINBOX\timplicit\n"

static const struct run_case run_cases[] = {
    /* RFC 5228 core */
    {"implicit keep", "", MSG_PLAIN, ALICE, ME, IK},
    {"keep", "keep;", MSG_PLAIN, ALICE, ME, "keep\tINBOX\n"},
    {"discard", "discard;", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"discard then keep", "discard; keep;", MSG_PLAIN, ALICE, ME, "discard\t\nkeep\tINBOX\n"},
    {"stop", "stop; discard;", MSG_PLAIN, ALICE, ME, IK},
    {"redirect cancels keep", "redirect \"bob@example.org\";", MSG_PLAIN, ALICE, ME,
     "redirect\tbob@example.org\n"},
    {"redirect twice is once", "redirect \"b@x.org\"; redirect \"B@x.org\";", MSG_PLAIN, ALICE, ME,
     "redirect\tb@x.org\n"},
    {"if true", "if true { discard; }", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"if false", "if false { discard; }", MSG_PLAIN, ALICE, ME, IK},
    {"elsif",
     "require \"fileinto\"; if false { fileinto \"a\"; } elsif true { fileinto \"b\"; } "
     "else { fileinto \"c\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tb\n"},
    {"else",
     "require \"fileinto\"; if false { fileinto \"a\"; } elsif false { fileinto \"b\"; } "
     "else { fileinto \"c\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tc\n"},
    {"only first true branch",
     "require \"fileinto\"; if true { fileinto \"a\"; } elsif true "
     "{ fileinto \"b\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\ta\n"},
    {"not", "if not false { discard; }", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"allof", "if allof (true, false) { discard; }", MSG_PLAIN, ALICE, ME, IK},
    {"anyof", "if anyof (false, true) { discard; }", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"header :is casemap",
     "if header :is \"SUBJECT\" \"[ACME-users] [fwd] version 1.0 IS out\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"header :is octet",
     "if header :is :comparator \"i;octet\" \"subject\" \"[ACME-users] [fwd] "
     "version 1.0 is out\" { discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    {"header :contains", "if header :contains [\"to\", \"cc\"] \"Carol\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {"header :contains empty key", "if header :contains \"subject\" \"\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {"header absent never matches", "if header :contains \"x-absent\" \"\" { discard; }", MSG_PLAIN,
     ALICE, ME, IK},
    {"header unfolded", "if header :is \"x-folded\" \"one\ttwo\" { discard; }", MSG_PLAIN, ALICE,
     ME, "discard\t\n"},
    {"header :matches ?", "if header :matches \"subject\" \"*version ?.? is*\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"header :matches escaped *", "if header :matches \"subject\" \"*\\\\*\" { discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    {"header :matches whole", "if header :matches \"subject\" \"version*\" { discard; }", MSG_PLAIN,
     ALICE, ME, IK},
    {"header RFC 2047", "if header :is \"subject\" \"Caf\xc3\xa9 au lait\" { discard; }", MSG_MIME,
     ALICE, ME, "discard\t\n"},
    {"address :all", "if address :is \"from\" \"ALICE@example.com\" { discard; }", MSG_PLAIN, ALICE,
     ME, "discard\t\n"},
    {"address :localpart", "if address :localpart :is \"cc\" \"carol\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {"address :domain", "if address :domain :is \"to\" \"example.org\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {"address quoted comma", "if address :is \"to\" \"dev+builds@example.org\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"address of encoded name", "if address :is \"from\" \"andre@example.fr\" { discard; }",
     MSG_MIME, ALICE, ME, "discard\t\n"},
    {"exists all", "if exists [\"from\", \"x-spam-score\"] { discard; }", MSG_PLAIN, ALICE, ME,
     "discard\t\n"},
    {"exists one missing", "if exists [\"from\", \"x-none\"] { discard; }", MSG_PLAIN, ALICE, ME,
     IK},
    {"size :over", "if size :over 100 { discard; }", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"size :under K", "if size :under 1K { discard; }", MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"size :over M", "if size :over 1M { discard; }", MSG_PLAIN, ALICE, ME, IK},
    {"encoded-character",
     "require [\"encoded-character\", \"fileinto\"]; "
     "fileinto \"${hex:41 42}${unicode:e9}${hex:zz}\";",
     MSG_PLAIN, ALICE, ME, "fileinto\tAB\xc3\xa9${hex:zz}\n"},
    {"encoded-character not required", "require \"fileinto\"; fileinto \"${hex:41}\";", MSG_PLAIN,
     ALICE, ME, "fileinto\t${hex:41}\n"},
    {"multi-line dot-stuffed", "require \"reject\"; reject text:\r\n..one\r\n.two\r\n.\r\n;",
     MSG_PLAIN, ALICE, ME, "reject\t.one\\n.two\\n\n"},
    {"quoted escapes", "require \"fileinto\"; fileinto \"a\\\\b\\\"c\\d\";", MSG_PLAIN, ALICE, ME,
     "fileinto\ta\\b\"cd\n"},
    /* RFC 5228 section 9 */
    {"RFC 5228 9: anyof not exists (no Date)",
     "if anyof (not exists [\"From\", \"Date\"],\r\n"
     "          header :contains \"from\" \"fool@example.com\") {\r\n"
     "   discard;\r\n}\r\n",
     MSG_NODATE, "fool@example.com", ME, "discard\t\n"},
    {"RFC 5228 9: list to filter", NULL, MSG_LIST, "x@imc.org", ME, "fileinto\tfilter\n"},
    {"RFC 5228 9: company kept", NULL, MSG_COMPANY, "boss@example.com", ME, "keep\tINBOX\n"},
    {"RFC 5228 9: spam", NULL, MSG_SPAM, "promo@spam.example", ME, "fileinto\tspam\n"},
    {"RFC 5228 9: personal", NULL, MSG_MIME, "andre@example.fr", ME, "fileinto\tpersonal\n"},
    /* fileinto, mailbox, copy */
    {"fileinto", "require \"fileinto\"; fileinto \"Lists\";", MSG_PLAIN, ALICE, ME,
     "fileinto\tLists\n"},
    {"fileinto INBOX is keep", "require \"fileinto\"; fileinto \"INBOX\"; keep;", MSG_PLAIN, ALICE,
     ME, "keep\tINBOX\n"},
    {"fileinto twice is once", "require \"fileinto\"; fileinto \"a\"; fileinto \"a\";", MSG_PLAIN,
     ALICE, ME, "fileinto\ta\n"},
    {"fileinto :create", "require [\"fileinto\", \"mailbox\"]; fileinto :create \"N.S\";",
     MSG_PLAIN, ALICE, ME, "fileinto\tN.S\tcreate\n"},
    {"fileinto :copy keeps", "require [\"fileinto\", \"copy\"]; fileinto :copy \"a\";", MSG_PLAIN,
     ALICE, ME, "fileinto\ta\tcopy\n" IK},
    {"redirect :copy keeps", "require \"copy\"; redirect :copy \"b@x.org\";", MSG_PLAIN, ALICE, ME,
     "redirect\tb@x.org\tcopy\n" IK},
    {"mailboxexists",
     "require [\"mailbox\", \"fileinto\"]; if mailboxexists \"Known\" "
     "{ fileinto \"Known\"; } if mailboxexists [\"Known\", \"Other\"] "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tKnown\n"},
    /* envelope */
    {"envelope from",
     "require \"envelope\"; if envelope :is \"from\" \"alice@example.com\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"envelope to :localpart",
     "require \"envelope\"; if envelope :localpart :is \"to\" \"me\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"envelope null sender",
     "require \"envelope\"; if envelope :domain :is \"from\" \"\" "
     "{ discard; }",
     MSG_PLAIN, "", ME, "discard\t\n"},
    /* imap4flags */
    {"addflag to keep",
     "require \"imap4flags\"; addflag \"\\\\Seen\"; addflag [\"a b\", \"\\\\seen\"];", MSG_PLAIN,
     ALICE, ME, "keep\tINBOX\timplicit\tflags=\\seen a b\n"},
    {"removeflag", "require \"imap4flags\"; setflag \"a b c\"; removeflag [\"B\"];", MSG_PLAIN,
     ALICE, ME, "keep\tINBOX\timplicit\tflags=a c\n"},
    {"flags at the time of fileinto",
     "require [\"imap4flags\", \"fileinto\"]; addflag \"x\"; "
     "fileinto \"f\"; setflag \"y\"; keep;",
     MSG_PLAIN, ALICE, ME, "fileinto\tf\tflags=x\nkeep\tINBOX\tflags=y\n"},
    {":flags replaces", "require \"imap4flags\"; addflag \"x\"; keep :flags \"\\\\Flagged\";",
     MSG_PLAIN, ALICE, ME, "keep\tINBOX\tflags=\\flagged\n"},
    {"hasflag",
     "require [\"imap4flags\", \"fileinto\"]; setflag \"a b\"; "
     "if hasflag :is \"b\" { fileinto \"yes\"; } if hasflag :is \"c\" { discard; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tyes\tflags=a b\n"},
    {"flag variable",
     "require [\"imap4flags\", \"variables\", \"fileinto\"]; "
     "addflag \"v\" \"q\"; if hasflag :is \"v\" \"q\" { fileinto \"${v}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tq\n"},
    /* subaddress */
    {":detail",
     "require [\"subaddress\", \"fileinto\"]; if address :detail :is \"to\" \"builds\" "
     "{ fileinto \"b\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tb\n"},
    {":user", "require \"subaddress\"; if address :user :is \"to\" \"dev\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {":detail absent never matches",
     "require \"subaddress\"; if address :detail :matches \"cc\" "
     "\"*\" { discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    {"envelope :detail",
     "require [\"subaddress\", \"envelope\", \"variables\", \"fileinto\"]; "
     "if envelope :detail :matches \"to\" \"*\" { fileinto \"${1}\"; }",
     MSG_PLAIN, ALICE, "me+Tag@example.org", "fileinto\tTag\n"},
    /* variables */
    {"match variables",
     "require [\"variables\", \"fileinto\"]; if header :matches \"subject\" "
     "\"[*] *\" { fileinto \"${1}/${2}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\tacme-users/[fwd] version 1.0 is out\n"},
    {"${0} and ?",
     "require [\"variables\", \"fileinto\"]; if header :matches \"x-spam-score\" "
     "\"1?\" { fileinto \"${0}-${1}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\t12-2\n"},
    {"set modifiers",
     "require [\"variables\", \"fileinto\"]; set :upperfirst :lower \"a\" "
     "\"HELLO\"; set :length \"n\" \"${a}\"; set :quotewildcard \"q\" \"a*b\"; "
     "fileinto \"${A}${n}${q}\";",
     MSG_PLAIN, ALICE, ME, "fileinto\tHello5a\\*b\n"},
    {"unknown variable is empty", "require [\"variables\", \"fileinto\"]; fileinto \"x${nope}y\";",
     MSG_PLAIN, ALICE, ME, "fileinto\txy\n"},
    {"string test",
     "require \"variables\"; set \"a\" \"foo\"; if string :matches \"${a}\" \"f*\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"string :count skips empty",
     "require [\"variables\", \"relational\"]; "
     "if string :count \"eq\" [\"a\", \"\", \"b\"] \"2\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    /* relational */
    {":count header",
     "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :count "
     "\"eq\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"2\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {":value numeric",
     "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :value "
     "\"gt\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"10\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {":value string order",
     "require \"relational\"; if header :value \"lt\" \"subject\" \"b\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    {":count addresses",
     "require [\"relational\", \"comparator-i;ascii-numeric\"]; "
     "if address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] "
     "\"3\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"numeric non-digit is infinity",
     "require [\"relational\", \"comparator-i;ascii-numeric\"]; "
     "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
     "\"subject\" \"99999\" { discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    /* body */
    {"body text", "require \"body\"; if body :contains \"money fast\" { discard; }", MSG_PLAIN,
     ALICE, ME, "discard\t\n"},
    {"body qp and charset",
     "require \"body\"; if body :text :contains \"caf\xc3\xa9 est "
     "pr\xc3\xaat\" { discard; }",
     MSG_MIME, ALICE, ME, "discard\t\n"},
    {"body :content base64",
     "require \"body\"; if body :content \"application\" :contains "
     "\"elephant\" { discard; }",
     MSG_MIME, ALICE, ME, "discard\t\n"},
    {"body :text skips attachments",
     "require \"body\"; if body :text :contains \"elephant\" "
     "{ discard; }",
     MSG_MIME, ALICE, ME, IK},
    {"body :content multipart searches the prologue",
     "require \"body\"; if body :content \"multipart\" :contains \"prologue\" { discard; }",
     MSG_MIME, ALICE, ME, "discard\t\n"},
    {"body :text does not", "require \"body\"; if body :text :contains \"prologue\" { discard; }",
     MSG_MIME, ALICE, ME, IK},
    {"body :raw", "require \"body\"; if body :raw :contains \"ZWxlcGhhbnQK\" { discard; }",
     MSG_MIME, ALICE, ME, "discard\t\n"},
    /* reject, ereject */
    {"reject", "require \"reject\"; reject \"no thanks\";", MSG_PLAIN, ALICE, ME,
     "reject\tno thanks\n"},
    {"ereject", "require \"ereject\"; ereject \"no\";", MSG_PLAIN, ALICE, ME, "ereject\tno\n"},
    {"reject after keep fails", "require \"reject\"; keep; reject \"no\";", MSG_PLAIN, ALICE, ME,
     "error\tline 1: reject: reject after keep (RFC 5429 2.2)\n" IK},
    {"fileinto after reject fails",
     "require [\"reject\", \"fileinto\"]; reject \"no\"; "
     "fileinto \"x\";",
     MSG_PLAIN, ALICE, ME, "error\tline 1: fileinto: fileinto after reject (RFC 5429 2.2)\n" IK},
    /* vacation (RFC 5230 section 4 examples and RFC 3834 rules) */
    {"RFC 5230 4: days and addresses",
     "require \"vacation\";\r\nvacation :days 23 :addresses [\"tjs@example.edu\",\r\n"
     "                              \"ts4z@landru.example.edu\"]\r\n"
     "   \"I'm away until October 19.\r\n   If it's an emergency, call 911, I guess.\" ;\r\n",
     MSG_COMPANY, "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=1987200\tsubject=Auto: lunch today?\tmime=0\tfrom=\t"
     "reason=I'm away until October 19.\\n   If it's an emergency, call 911, I guess.\n" IK},
    {"RFC 5230 4: boss redirected",
     "require \"vacation\";\r\nif header :contains \"from\" \"boss@example.com\" {\r\n"
     "    redirect \"pleeb@xanadu.example.com\";\r\n} else {\r\n"
     "    vacation \"Sorry, I'm away, I'll read your\r\nmessage when I get around to "
     "it.\";\r\n}\r\n",
     MSG_COMPANY, "boss@example.com", ME, "redirect\tpleeb@xanadu.example.com\n"},
    {"RFC 5230 4: handle",
     "require \"vacation\";\r\nif header :contains \"subject\" \"lunch\" {\r\n"
     "    vacation :handle \"ran-away\" \"I'm out and can't meet for lunch\";\r\n} else {\r\n"
     "    vacation :handle \"ran-away\" \"I'm on vacation and not reading my mail\";\r\n}\r\n",
     MSG_COMPANY, "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=604800\tsubject=Auto: lunch today?\tmime=0\tfrom=\t"
     "reason=I'm out and can't meet for lunch\n" IK},
    {"RFC 5230 4: subject from variables",
     "require [\"vacation\", \"variables\"];\r\nif header :matches \"subject\" \"*\" {\r\n"
     "    vacation :subject \"Automatic response to: ${1}\"\r\n             \"I'm away\";\r\n}\r\n",
     MSG_COMPANY, "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=604800\tsubject=Automatic response to: lunch today?\t"
     "mime=0\tfrom=\treason=I'm away\n" IK},
    {"RFC 5230 4: from",
     "require \"vacation\";\r\nvacation :days 7 :from "
     "\"hemingway@example.com\" \"Gone fishing\";\r\n",
     MSG_COMPANY, "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=604800\tsubject=Auto: lunch today?\tmime=0\t"
     "from=hemingway@example.com\treason=Gone fishing\n" IK},
    {"RFC 5230 4: mime",
     "require \"vacation\";\r\nvacation :mime text:\r\n"
     "Content-Type: text/plain\r\n\r\nI'm at the beach.\r\n.\r\n;\r\n",
     MSG_COMPANY, "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=604800\tsubject=Auto: lunch today?\tmime=1\tfrom=\t"
     "reason=Content-Type: text/plain\\n\\nI'm at the beach.\\n\n" IK},
    {"vacation :days 0 is 1", "require \"vacation\"; vacation :days 0 \"x\";", MSG_COMPANY,
     "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=86400\tsubject=Auto: lunch today?\tmime=0\tfrom=\t"
     "reason=x\n" IK},
    {"vacation-seconds", "require \"vacation-seconds\"; vacation :seconds 60 \"x\";", MSG_COMPANY,
     "boss@example.com", ME,
     "vacation\tboss@example.com\tperiod=60\tsubject=Auto: lunch today?\tmime=0\tfrom=\t"
     "reason=x\n" IK},
    {"no vacation to a list", "require \"vacation\"; vacation \"x\";", MSG_LIST, "x@imc.org", ME,
     IK},
    {"no vacation to bulk", "require \"vacation\"; vacation \"x\";", MSG_BULK, "news@example.com",
     ME, IK},
    {"no vacation to auto-submitted", "require \"vacation\"; vacation \"x\";", MSG_AUTO,
     "robot@example.com", ME, IK},
    {"vacation to Auto-Submitted: no", "require \"vacation\"; vacation :subject \"s\" \"x\";",
     MSG_AUTO_NO, "human@example.com", ME,
     "vacation\thuman@example.com\tperiod=604800\tsubject=s\tmime=0\tfrom=\treason=x\n" IK},
    {"no vacation to the null sender", "require \"vacation\"; vacation \"x\";", MSG_COMPANY, "", ME,
     IK},
    {"no vacation to MAILER-DAEMON", "require \"vacation\"; vacation \"x\";", MSG_COMPANY,
     "MAILER-DAEMON@example.com", ME, IK},
    {"no vacation to owner-", "require \"vacation\"; vacation \"x\";", MSG_COMPANY,
     "owner-list@example.com", ME, IK},
    {"no vacation to -request", "require \"vacation\"; vacation \"x\";", MSG_COMPANY,
     "list-request@example.com", ME, IK},
    {"no vacation when not addressed", "require \"vacation\"; vacation \"x\";", MSG_BCC,
     "friend@example.com", ME, IK},
    {"vacation :addresses makes addressed",
     "require \"vacation\"; vacation :subject \"s\" "
     ":addresses \"other@example.com\" \"x\";",
     MSG_BCC, "friend@example.com", ME,
     "vacation\tfriend@example.com\tperiod=604800\tsubject=s\tmime=0\tfrom=\treason=x\n" IK},
    /* index (RFC 5260 6) */
    {":index",
     "require [\"index\", \"variables\", \"fileinto\"]; if header :index 2 :matches "
     "\"x-spam-score\" \"*\" { fileinto \"${1}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\t12\n"},
    {":index :last",
     "require [\"index\", \"variables\", \"fileinto\"]; if header :index 1 :last "
     ":matches \"x-spam-score\" \"*\" { fileinto \"${1}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\t12\n"},
    {":index beyond",
     "require \"index\"; if header :index 3 :contains \"x-spam-score\" \"\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    /* date (RFC 5260 4) */
    {"date parts in the original zone",
     "require [\"date\", \"variables\", \"fileinto\"]; "
     "if date :matches :originalzone \"date\" \"date\" \"*\" { set \"d\" \"${0}\"; } "
     "if date :matches :originalzone \"date\" \"time\" \"*\" { set \"t\" \"${0}\"; } "
     "if date :matches :originalzone \"date\" \"zone\" \"*\" { set \"z\" \"${0}\"; } "
     "if date :matches :originalzone \"date\" \"weekday\" \"*\" { set \"w\" \"${0}\"; } "
     "fileinto \"${d} ${t} ${z} ${w}\";",
     MSG_PLAIN, ALICE, ME, "fileinto\t2026-12-07 09:15:00 +0100 1\n"},
    {"date moved to a zone across midnight",
     "require [\"date\", \"variables\", \"fileinto\"]; "
     "if date :matches :zone \"-1000\" \"date\" \"iso8601\" \"*\" { fileinto \"${0}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\t2026-12-06T22:15:00-10:00\n"},
    {"date julian and std11",
     "require [\"date\", \"variables\", \"fileinto\"]; "
     "if date :matches :zone \"+0000\" \"date\" \"julian\" \"*\" { set \"j\" \"${0}\"; } "
     "if date :matches :zone \"+0000\" \"date\" \"std11\" \"*\" { fileinto \"${j} ${0}\"; }",
     MSG_PLAIN, ALICE, ME, "fileinto\t61381 Mon, 07 Dec 2026 08:15:00 +0000\n"},
    {"date relational on year",
     "require [\"date\", \"relational\", "
     "\"comparator-i;ascii-numeric\"]; if date :value \"ge\" "
     ":comparator \"i;ascii-numeric\" \"date\" \"year\" \"2026\" "
     "{ discard; }",
     MSG_PLAIN, ALICE, ME, "discard\t\n"},
    {"date of a missing field never matches",
     "require \"date\"; if date :matches \"date\" "
     "\"year\" \"*\" { discard; }",
     MSG_NODATE, ALICE, ME, IK},
    {"date of a field that is no date",
     "require \"date\"; if date :matches \"subject\" "
     "\"year\" \"*\" { discard; }",
     MSG_PLAIN, ALICE, ME, IK},
    /* runtime limits */
    {"redirect limit",
     "redirect \"a@x.org\"; redirect \"b@x.org\"; redirect \"c@x.org\"; "
     "redirect \"d@x.org\"; redirect \"e@x.org\";",
     MSG_PLAIN, ALICE, ME, "error\tline 1: redirect: more than 4 redirects\n" IK},
    {"bad redirect address", "redirect \"not an address\";", MSG_PLAIN, ALICE, ME,
     "error\tline 1: redirect: \"not an address\" is not an address\n" IK},
    {"vacation twice", "require \"vacation\"; vacation :handle \"a\" \"x\"; vacation \"y\";",
     MSG_PLAIN, ALICE, ME,
     "error\tline 1: vacation: vacation runs at most once (RFC 5230 4.7)\n" IK},
};

/* The larger example of RFC 5228 section 9, verbatim but for the domain. */
static const char RFC5228_9[] =
    "#\r\n# Example Sieve Filter\r\n"
    "# Declare any optional features or extension used by the script\r\n#\r\n"
    "require [\"fileinto\"];\r\n\r\n"
    "#\r\n# Handle messages from known mailing lists\r\n"
    "# Move messages from IETF filter discussion list to filter mailbox\r\n#\r\n"
    "if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\r\n"
    "        {\r\n        fileinto \"filter\";  # move to \"filter\" mailbox\r\n        }\r\n"
    "#\r\n# Keep all messages to or from people in my company\r\n#\r\n"
    "elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\r\n"
    "        {\r\n        keep;               # keep in \"In\" mailbox\r\n        }\r\n\r\n"
    "#\r\n# Try and catch unsolicited email.  If a message is not to me,\r\n"
    "# or it contains a subject known to be spam, file it away.\r\n#\r\n"
    "elsif anyof (NOT address :all :contains\r\n"
    "               [\"To\", \"Cc\", \"Bcc\"] \"me@example.org\",\r\n"
    "             header :matches \"subject\"\r\n"
    "               [\"*make*money*fast*\", \"*university*dipl*mas*\"])\r\n"
    "        {\r\n        fileinto \"spam\";   # move to \"spam\" mailbox\r\n        }\r\n"
    "else\r\n        {\r\n        # Move all other (non-company) mail to \"personal\"\r\n"
    "        # mailbox.\r\n        fileinto \"personal\";\r\n        }\r\n";

static int known_folder(void *ctx, const char *folder)
{
    (void)ctx;
    return strcmp(folder, "Known") == 0 || strcmp(folder, "INBOX") == 0;
}

static char *run_script(const char *script, const char *message, const char *from, const char *to,
                        const struct sieve_env *env_in)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(script, strlen(script), &limits, &errors);
    if (s == NULL) {
        for (size_t i = 0; i < errors.count; i++)
            fprintf(stderr, "%u:%u: %s\n", errors.items[i].line, errors.items[i].column,
                    errors.items[i].message);
        ck_abort_msg("does not compile");
    }
    sieve_errors_clear(&errors);
    struct sieve_message *m = sieve_message_parse(message, strlen(message), NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(sieve_message_set_envelope(m, from, to, NULL), 0);
    struct sieve_env env = {.mailbox_exists = known_folder};
    if (env_in != NULL)
        env = *env_in;
    struct sieve_result r;
    sieve_run(s, m, &env, &r);
    char *text = sieve_result_format(&r);
    ck_assert_ptr_nonnull(text);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
    return text;
}

START_TEST(test_run_table)
{
    const struct run_case *c = &run_cases[_i];
    char *got =
        run_script(c->script != NULL ? c->script : RFC5228_9, c->message, c->from, c->to, NULL);
    ck_assert_msg(strcmp(got, c->expect) == 0, "%s:\n got: %s\nwant: %s", c->name, got, c->expect);
    free(got);
}
END_TEST

/* 60 stars against a 4000-octet value that fails at its last octet: a
 * backtracking matcher takes astronomically long, ours is bounded. */
START_TEST(test_matches_not_exponential)
{
    char script[512], *msg = malloc(5000);
    ck_assert_ptr_nonnull(msg);
    strcpy(script, "if header :matches \"subject\" \"");
    for (int i = 0; i < 60; i++)
        strcat(script, "a*");
    strcat(script, "b\" { discard; }");
    strcpy(msg, "Subject: ");
    size_t n = strlen(msg);
    memset(msg + n, 'a', 4000);
    strcpy(msg + n + 4000, "\r\n\r\nx\r\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *got = run_script(script, msg, ALICE, ME, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* either no match or the step budget ended it: the mail is kept */
    ck_assert_ptr_nonnull(strstr(got, IK));
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
    free(got);
    free(msg);
}
END_TEST

START_TEST(test_step_budget)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    limits.steps_max = 1000;
    struct sieve_errors errors = {0};
    const char *text =
        "if header :contains \"subject\" [\"x1\",\"x2\",\"x3\",\"x4\",\"x5\",\"x6\"] "
        "{ discard; }";
    struct sieve_script *s = sieve_compile(text, strlen(text), &limits, &errors);
    ck_assert_ptr_nonnull(s);
    char *big = malloc(3000);
    strcpy(big, "Subject: ");
    memset(big + 9, 'y', 2000);
    strcpy(big + 2009, "\r\n\r\n");
    struct sieve_message *m = sieve_message_parse(big, strlen(big), NULL);
    struct sieve_result r;
    ck_assert_int_eq(sieve_run(s, m, NULL, &r), SIEVE_RUN_ERROR);
    ck_assert_ptr_nonnull(strstr(r.error, "steps"));
    ck_assert(r.count == 1 && r.actions[0].implicit);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
    free(big);
}
END_TEST

START_TEST(test_action_limit)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    limits.actions_max = 3;
    struct sieve_errors errors = {0};
    const char *text = "require \"fileinto\"; fileinto \"a\"; fileinto \"b\"; fileinto \"c\"; "
                       "fileinto \"d\";";
    struct sieve_script *s = sieve_compile(text, strlen(text), &limits, &errors);
    struct sieve_message *m = sieve_message_parse(MSG_PLAIN, strlen(MSG_PLAIN), NULL);
    struct sieve_result r;
    ck_assert_int_eq(sieve_run(s, m, NULL, &r), SIEVE_RUN_ERROR);
    ck_assert_ptr_nonnull(strstr(r.error, "more than 3 actions"));
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
}
END_TEST

struct store_ctx {
    const char *dir;
    time_t now;
};

static int store_seen(void *ctx, const char *key, const char *sender, unsigned long period)
{
    struct store_ctx *c = ctx;
    return sieve_vacation_store_seen(c->dir, key, sender, period, c->now);
}

static int store_broken(void *ctx, const char *key, const char *sender, unsigned long period)
{
    (void)ctx;
    (void)key;
    (void)sender;
    (void)period;
    return -1;
}

START_TEST(test_vacation_once_per_period)
{
    char dir[256];
    temp_dir_make(dir, sizeof dir, "test_sieve");
    struct store_ctx sc = {dir, 1000000};
    const char *addrs[] = {ME};
    struct sieve_env env = {
        .ctx = &sc, .vacation_seen = store_seen, .user_addresses = addrs, .user_address_count = 1};
    const char *script = "require \"vacation\"; vacation :days 2 \"away\";";
    char *got = run_script(script, MSG_COMPANY, "boss@example.com", ME, &env);
    ck_assert_ptr_nonnull(strstr(got, "vacation\tboss@example.com"));
    ck_assert_ptr_nonnull(strstr(got, "from=" ME));
    free(got);

    /* the caller records the reply it queued, under the action's key */
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(script, strlen(script), &limits, &errors);
    struct sieve_message *m = sieve_message_parse(MSG_COMPANY, strlen(MSG_COMPANY), NULL);
    sieve_message_set_envelope(m, "boss@example.com", ME, NULL);
    struct sieve_result r;
    ck_assert_int_eq(sieve_run(s, m, &env, &r), SIEVE_RUN_OK);
    ck_assert_int_eq(r.actions[0].kind, SIEVE_ACT_VACATION);
    ck_assert_int_eq(sieve_vacation_store_record(dir, r.actions[0].key, "Boss@Example.com", sc.now),
                     0);
    sieve_result_clear(&r);

    /* within the period: silent; another sender still answered */
    sc.now += 2 * 86400 - 1;
    ck_assert_int_eq(sieve_run(s, m, &env, &r), SIEVE_RUN_OK);
    ck_assert_uint_eq(r.count, 1);
    ck_assert(r.actions[0].implicit);
    sieve_result_clear(&r);
    got = run_script(script, MSG_COMPANY, "other@example.com", ME, &env);
    ck_assert_ptr_nonnull(strstr(got, "vacation\tother@example.com"));
    free(got);

    /* after it: answered again */
    sc.now += 1;
    ck_assert_int_eq(sieve_run(s, m, &env, &r), SIEVE_RUN_OK);
    ck_assert_int_eq(r.actions[0].kind, SIEVE_ACT_VACATION);
    sieve_result_clear(&r);

    /* a store that cannot answer is a temporary failure, never a second reply */
    env.vacation_seen = store_broken;
    ck_assert_int_eq(sieve_run(s, m, &env, &r), SIEVE_RUN_TEMPFAIL);
    ck_assert(r.count == 1 && r.actions[0].implicit);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
    temp_dir_remove(dir);
}
END_TEST

START_TEST(test_cache_compiles_once)
{
    struct sieve_cache *c = sieve_cache_new(2);
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    struct sieve_errors errors = {0};
    const char *a = "keep;", *b = "discard;", *d = "stop;";
    const struct sieve_script *s1 = sieve_cache_get(c, a, strlen(a), &limits, &errors);
    const struct sieve_script *s2 = sieve_cache_get(c, a, strlen(a), &limits, &errors);
    ck_assert_ptr_nonnull(s1);
    ck_assert_ptr_eq(s1, s2);
    size_t compiled, hits;
    sieve_cache_stats(c, &compiled, &hits);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_uint_eq(hits, 1);
    sieve_cache_release(c, s1);
    sieve_cache_release(c, s2);
    const struct sieve_script *s3 = sieve_cache_get(c, b, strlen(b), &limits, &errors);
    const struct sieve_script *s4 = sieve_cache_get(c, d, strlen(d), &limits, &errors);
    ck_assert_ptr_nonnull(s3);
    ck_assert_ptr_nonnull(s4);
    sieve_cache_release(c, s3);
    sieve_cache_release(c, s4);
    sieve_cache_stats(c, &compiled, &hits);
    ck_assert_uint_eq(compiled, 3);
    ck_assert_ptr_null(sieve_cache_get(c, "bogus", 5, &limits, &errors));
    ck_assert_uint_ge(errors.count, 1);
    sieve_errors_clear(&errors);
    sieve_cache_free(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_currentdate)
{
    /* 2026-12-07 08:15:00 UTC, a Monday */
    struct sieve_env env = {.now = (time_t)1796631300};
    char *got = run_script("require [\"date\", \"variables\", \"fileinto\"]; "
                           "if currentdate :matches :zone \"+0100\" \"iso8601\" \"*\" "
                           "{ fileinto \"${0}\"; }",
                           MSG_PLAIN, ALICE, ME, &env);
    ck_assert_str_eq(got, "fileinto\t2026-12-07T09:15:00+01:00\n");
    free(got);
}
END_TEST

START_TEST(test_rfc2047)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"=?UTF-8?B?w6k=?=", "\xc3\xa9"},
        {"=?iso-8859-1?q?a=E9_b?=", "a\xc3\xa9 b"},
        {"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"},
        {"x =?ISO-8859-1?Q?a?= y", "x a y"},
        {"=?utf-8*en?Q?hi?=", "hi"},
        {"=?bogus-charset?Q?hi?=", "hi"},
        {"=?UTF-8?X?bad?=", "=?UTF-8?X?bad?="},
        {"=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = sieve_mime_decode_header(cases[i].in);
        ck_assert_str_eq(got, cases[i].out);
        free(got);
    }
}
END_TEST

static Suite *sieve_suite(void)
{
    Suite *s = suite_create("sieve");
    TCase *tc = tcase_create("run");
    tcase_add_loop_test(tc, test_run_table, 0, (int)(sizeof run_cases / sizeof run_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_matches_not_exponential);
    tcase_add_test(tc, test_step_budget);
    tcase_add_test(tc, test_action_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_test(tc, test_vacation_once_per_period);
    tcase_add_test(tc, test_cache_compiles_once);
    tcase_add_test(tc, test_rfc2047);
    tcase_add_test(tc, test_currentdate);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sieve_suite)
