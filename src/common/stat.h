/*
 * Counters and flags shared between threads (the cloud's workers and its
 * control loop): relaxed atomics. A counter needs no ordering with other
 * memory, only that no increment is lost and no read is torn.
 */
#ifndef ISTHMUS_STAT_H
#define ISTHMUS_STAT_H

#define STAT_ADD(v, n) ((void)__atomic_fetch_add(&(v), (n), __ATOMIC_RELAXED))
#define STAT_SUB(v, n) ((void)__atomic_fetch_sub(&(v), (n), __ATOMIC_RELAXED))
#define STAT_GET(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)
#define STAT_SET(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELAXED)

#endif
