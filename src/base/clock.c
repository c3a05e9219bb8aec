/*
 * clock.c - the monotonic clock in milliseconds, and deadlines on it for
 * condition variables set to CLOCK_MONOTONIC: one copy for every module
 * that times waits, batches and timeouts (wall time is never used for them).
 */
#include <time.h>

#include "karpenter/base.h"

int64_t kp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kp_mono_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
