/* proto/service_deadlines.c - see service_deadlines.h. */
#include "config.h"

#include "proto/service_deadlines.h"

#include "lib/log.h"

static void set_values(struct service_deadlines *d, const struct config_service *svc,
                       bool overloaded)
{
    d->overloaded = overloaded;
    d->current.line_ms =
        (uint64_t)(overloaded ? svc->overload_idle_timeout : svc->idle_timeout) * 1000;
    d->current.transfer_ms =
        (uint64_t)(overloaded ? svc->overload_data_timeout : svc->data_timeout) * 1000;
    d->current.min_rate = svc->data_min_rate;
    d->current.window_ms = (uint64_t)svc->data_rate_window * 1000;
}

void service_deadlines_init(struct service_deadlines *d, const struct config_service *svc)
{
    set_values(d, svc, false);
}

bool service_deadlines_update(struct service_deadlines *d, const struct config_service *svc,
                              struct conn_limit *limits, unsigned service_slot, uint64_t now_ms)
{
    if (svc->overload_threshold == 0)
        return false;
    uint64_t in_use = conn_limit_service_count(limits, service_slot);
    uint64_t max = svc->max_connections;
    bool shared = conn_limit_overloaded(limits, service_slot);
    unsigned leave_at = svc->overload_threshold > 10 ? svc->overload_threshold - 10 : 0;
    bool want = shared ? in_use * 100 >= max * leave_at : in_use * 100 >= max * svc->overload_threshold;
    uint64_t since = 0;
    if (conn_limit_overload_set(limits, service_slot, want, now_ms, &since)) {
        if (want)
            log_warning("event=overload_begin service=%s connections=%llu max_connections=%u "
                        "idle_timeout=%u data_timeout=%u",
                        svc->name, (unsigned long long)in_use, svc->max_connections,
                        svc->overload_idle_timeout, svc->overload_data_timeout);
        else
            log_info("event=overload_end service=%s connections=%llu duration=%.1fs", svc->name,
                     (unsigned long long)in_use,
                     since != 0 && now_ms > since ? (double)(now_ms - since) / 1000.0 : 0.0);
    }
    bool now_overloaded = conn_limit_overloaded(limits, service_slot);
    if (now_overloaded == d->overloaded)
        return false;
    set_values(d, svc, now_overloaded);
    return true;
}
