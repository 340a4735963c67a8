/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The trace writer: Chrome trace-event JSON (Perfetto, chrome://tracing)
 * from the observer hooks.
 *
 * kvmmu_trace_begin() opens the file and subscribes to spans (fault, zap,
 * flush, memslot update, root load), notifier invalidations and WARNs.
 * Every kvmmu thread gets a track of its own ("pid" 1, "tid" its kvmmu
 * thread id, named by a thread_name metadata event the first time it
 * appears); spans and invalidations become "B"/"E" pairs on it, WARNs and
 * kvmmu_trace_instant() thread-scoped instant events.  Timestamps are
 * CLOCK_MONOTONIC microseconds since kvmmu_trace_begin().
 *
 * Records stream to the file through one bounded buffer under a raw mutex,
 * so a long run costs no memory beyond it and records from concurrent
 * threads never interleave.  The writer has no sched points: tracing a
 * controlled schedule does not change it, nor its event hash.
 *
 * Observer registration is not synchronised with emitters (observe.h):
 * begin and end the trace while no thread emits events, and run
 * rcu_barrier() before kvmmu_trace_end() if the RCU callbacks of the traced
 * work should still be in the trace.  An event that races with the end
 * anyway is dropped, never written after the closing bracket.
 */
#ifndef KVMMU_TRACE_TRACE_H
#define KVMMU_TRACE_TRACE_H

#include <stdbool.h>

#include "compiler.h"

/**
 * kvmmu_trace_begin() - start writing a trace
 * @path: the file to create (or truncate)
 *
 * Return: 0; -errno if @path cannot be opened; -EBUSY if a trace is
 * already being written; -ENOSPC if no observer slot is free.
 */
int __must_check kvmmu_trace_begin(const char *path);

/**
 * kvmmu_trace_end() - stop tracing, finish the JSON document, close the file
 *
 * Spans still open in running threads stay open in the file (viewers show
 * them running to the end of the trace).
 *
 * Return: 0; -errno from the first failed write or from closing the file;
 * -EINVAL if no trace is being written.
 */
int kvmmu_trace_end(void);

/**
 * kvmmu_trace_instant() - an instant event on the calling thread's track
 * @name: the event's name ("violation")
 * @detail: shown as args.detail; may be NULL
 *
 * Does nothing when no trace is being written.
 */
void kvmmu_trace_instant(const char *name, const char *detail);

/* Whether a trace is being written. */
bool kvmmu_trace_active(void);

#endif /* KVMMU_TRACE_TRACE_H */
