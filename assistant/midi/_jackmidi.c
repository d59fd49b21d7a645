/*
 * _jackmidi.c: one JACK client that carries all of midi-assistant's MIDI ports.
 *
 * Why native: python-rtmidi opens one JACK client per port, and JACK wakes
 * every client once per period (750 times a second at 64 frames / 48 kHz), so
 * three ports cost three wake-ups per period even with nothing to play. No
 * Python may run on JACK's realtime thread either (a callback there must take
 * the GIL, and any GIL hold longer than a period makes the whole graph, the
 * user's DAW included, miss its deadline). This file is the realtime part
 * only: a process callback that moves events between JACK's port buffers and
 * lock-free single-producer/single-consumer rings. Python drives it through
 * ctypes (assistant/jackmidi.py); ctypes releases the GIL during each call.
 *
 * libjack is opened with dlopen at run time, so building needs only a C
 * compiler (no JACK headers) and the module loads on machines without JACK.
 *
 * Threading contract:
 *  - mj_process runs on JACK's realtime thread: no locks, no allocation, no
 *    blocking; its only system call is one non-blocking write() on the wake
 *    pipe in a cycle that received input.
 *  - The input ring has one producer (mj_process) and one consumer (the
 *    thread that calls mj_wait/mj_read: Python's reader thread).
 *  - Each output port's ring has one producer (whoever calls mj_send and
 *    mj_withdraw for that port, one thread at a time: Python serialises them per
 *    port) and one consumer (mj_process), which moves what arrives into the port's
 *    pending list (time order) and writes each event in the cycle of its frame. So
 *    a sender may hand events over long before their time (tens of ms), and
 *    mj_withdraw takes back those not yet committed: a plan that changes, or a
 *    panic, never has to wait for what was handed over. The withdrawal is a
 *    request the process callback answers at its next cycle (a lock-free state
 *    machine: nothing on the realtime thread waits).
 *  - Input that jack2 hands a second time (after a stall of the server, or when
 *    the sender was not finished in its cycle: the last cycle's events again) is
 *    counted and dropped: see process_input.
 *  - mj_open, mj_add_port, mj_connect, mj_drain and mj_close are for one
 *    control thread (Python's main thread).
 *
 * Times: JACK's clock (jack_get_time, microseconds; CLOCK_MONOTONIC_RAW in
 * jack2 on Linux) inside; CLOCK_MONOTONIC nanoseconds (Python's
 * time.perf_counter_ns) at the interface, converted when read or sent.
 * Both directions live on JACK's frame clock: an input event is stamped with
 * the time of its frame, and an output event with a time goes out in the cycle
 * that holds that time's frame, at that frame; the time of a frame is this
 * client's own time base (tb_cycle), not jack2's filtered one. So what
 * the engine plans against the DAW's clock pulses lands on the DAW's frames,
 * whatever the period. (A cycle's first frame is placed at the moment its
 * process callback runs, when it runs without delay, as jack2 places it.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MJ_EXPORT __attribute__((visibility("default")))

#define BASE_LOG 8 /* moves of the time base remembered (mj_base_shift_ns) */

typedef uint32_t jack_nframes_t;
typedef uint64_t jack_time_t;
typedef struct jack_client_opaque jack_client_t;
typedef struct jack_port_opaque jack_port_t;
typedef struct {
    jack_nframes_t time;
    size_t size;
    unsigned char *buffer;
} jack_midi_event_t;
typedef struct {
    jack_nframes_t min;
    jack_nframes_t max;
} jack_latency_range_t;
enum { JACK_CAPTURE_LATENCY = 0, JACK_PLAYBACK_LATENCY = 1 };


enum { JACK_NO_START_SERVER = 0x01 };
enum { JACK_PORT_IS_INPUT = 0x1, JACK_PORT_IS_OUTPUT = 0x2 };
static const char *const MIDI_TYPE = "8 bit raw midi";

static struct {
    void *lib;
    jack_client_t *(*client_open)(const char *, int, int *, ...);
    int (*client_close)(jack_client_t *);
    char *(*get_client_name)(jack_client_t *);
    int (*set_process_callback)(jack_client_t *, int (*)(jack_nframes_t, void *), void *);
    void (*on_shutdown)(jack_client_t *, void (*)(void *), void *);
    const char **(*port_get_connections)(const jack_port_t *);
    void (*free)(void *);
    int (*activate)(jack_client_t *);
    int (*deactivate)(jack_client_t *);
    jack_port_t *(*port_register)(jack_client_t *, const char *, const char *, unsigned long, unsigned long);
    const char *(*port_name)(const jack_port_t *);
    void *(*port_get_buffer)(jack_port_t *, jack_nframes_t);
    int (*connect)(jack_client_t *, const char *, const char *);
    uint32_t (*midi_get_event_count)(void *);
    int (*midi_event_get)(jack_midi_event_t *, void *, uint32_t);
    void (*midi_clear_buffer)(void *);
    int (*midi_event_write)(void *, jack_nframes_t, const unsigned char *, size_t);
    jack_nframes_t (*last_frame_time)(const jack_client_t *);
    jack_time_t (*get_time)(void);
    jack_time_t (*frames_to_time)(const jack_client_t *, jack_nframes_t);
    jack_nframes_t (*get_sample_rate)(jack_client_t *);
    jack_nframes_t (*get_buffer_size)(jack_client_t *);
    /* latency API (weak exports: NULL where a libjack lacks them) */
    int (*set_latency_callback)(jack_client_t *, void (*)(int, void *), void *);
    int (*set_xrun_callback)(jack_client_t *, int (*)(void *), void *);
    void (*port_set_latency_range)(jack_port_t *, int, jack_latency_range_t *);
    int (*recompute_total_latencies)(jack_client_t *);
} J;

static char load_error[256];

/* Resolve every libjack function we use; 0 on success. */
static int load_jack(void) {
    if (J.lib) return 0;
    const char *names[] = {"libjack.so.0", "libjack.so", "libjack.0.dylib", "libjack.dylib", NULL};
    void *lib = NULL;
    for (int i = 0; names[i] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "libjack not found (%s)", dlerror());
        return -1;
    }
#define SYM(field, name)                                                                  \
    do {                                                                                  \
        *(void **)(&J.field) = dlsym(lib, name);                                          \
        if (!J.field) {                                                                   \
            snprintf(load_error, sizeof load_error, "libjack lacks %s", name);            \
            dlclose(lib);                                                                 \
            memset(&J, 0, sizeof J);                                                      \
            return -1;                                                                    \
        }                                                                                 \
    } while (0)
    SYM(client_open, "jack_client_open");
    SYM(client_close, "jack_client_close");
    SYM(get_client_name, "jack_get_client_name");
    SYM(set_process_callback, "jack_set_process_callback");
    SYM(on_shutdown, "jack_on_shutdown");
    SYM(port_get_connections, "jack_port_get_connections");
    SYM(free, "jack_free");
    SYM(activate, "jack_activate");
    SYM(deactivate, "jack_deactivate");
    SYM(port_register, "jack_port_register");
    SYM(port_name, "jack_port_name");
    SYM(port_get_buffer, "jack_port_get_buffer");
    SYM(connect, "jack_connect");
    SYM(midi_get_event_count, "jack_midi_get_event_count");
    SYM(midi_event_get, "jack_midi_event_get");
    SYM(midi_clear_buffer, "jack_midi_clear_buffer");
    SYM(midi_event_write, "jack_midi_event_write");
    SYM(last_frame_time, "jack_last_frame_time");
    SYM(get_time, "jack_get_time");
    SYM(frames_to_time, "jack_frames_to_time");
    SYM(get_sample_rate, "jack_get_sample_rate");
    SYM(get_buffer_size, "jack_get_buffer_size");
    SYM(set_xrun_callback, "jack_set_xrun_callback");
#undef SYM
    *(void **)(&J.set_latency_callback) = dlsym(lib, "jack_set_latency_callback");
    *(void **)(&J.port_set_latency_range) = dlsym(lib, "jack_port_set_latency_range");
    *(void **)(&J.recompute_total_latencies) = dlsym(lib, "jack_recompute_total_latencies");
    if (!J.port_set_latency_range) J.set_latency_callback = NULL;
    J.lib = lib;
    return 0;
}

/* ------------------------------------------------------------------ rings */

#define SLOT_DATA 44 /* longest message carried; longer input (sysex) is counted and dropped */
#define IN_SLOTS 8192 /* 1.6 s of a 5,000 messages/s burst */
#define OUT_SLOTS 2048
#define MAX_PORTS 16

typedef struct {
    uint64_t time;  /* JACK microseconds; 0 in an output slot: as soon as possible */
    uint32_t id;    /* output: the sender's id for the event (mj_withdraw reports it) */
    uint16_t size;
    uint8_t port;
    uint8_t asap;   /* output: sent without a time (goes after what the port holds) */
    uint8_t data[SLOT_DATA];
} slot_t; /* 64 bytes */

typedef struct {
    _Atomic uint32_t head; /* written by the producer */
    _Atomic uint32_t tail; /* written by the consumer */
    uint32_t mask;
    slot_t *slots;
} ring_t;

static int ring_init(ring_t *r, uint32_t n) {
    r->slots = calloc(n, sizeof(slot_t));
    if (!r->slots) return -1;
    r->mask = n - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

/* The free slot the producer may fill, or NULL when full. */
static slot_t *ring_back(ring_t *r) {
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return head - tail > r->mask ? NULL : &r->slots[head & r->mask];
}

static void ring_push(ring_t *r) {
    atomic_store_explicit(&r->head, atomic_load_explicit(&r->head, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* The oldest filled slot, or NULL when empty (consumer side). */
static slot_t *ring_front(ring_t *r) {
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return tail == head ? NULL : &r->slots[tail & r->mask];
}

static void ring_pop(ring_t *r) {
    atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + 1,
                          memory_order_release);
}

static int ring_empty(ring_t *r) {
    return atomic_load_explicit(&r->head, memory_order_acquire) ==
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* ------------------------------------------------------------------ client */

#define PEND_SLOTS 4096 /* events an output holds for later cycles (tens of ms of dense MIDI) */

/* A withdrawal request's state: Python moves IDLE -> ASKED (or ASKED -> IDLE when it
 * gives up), the process callback ASKED -> TAKEN -> DONE, Python DONE -> IDLE. */
enum { WD_IDLE = 0, WD_ASKED = 1, WD_TAKEN = 2, WD_DONE = 3 };

#define MIN_PULSE_US 6250.0 /* the shortest MIDI clock pulse: 400 BPM at 24 to a quarter */
#define PREV_EVENTS 32 /* an input's events of the last cycle, to tell a cycle handed again */

typedef struct {
    uint32_t offset;
    uint16_t size;
    uint8_t data[8]; /* the first bytes (all of any message but a sysex) */
} seen_t;

typedef struct {
    jack_port_t *port;
    int is_output;
    _Atomic uint32_t own_latency; /* frames this port's own processing adds (mj_latency) */
    seen_t prev[PREV_EVENTS]; /* input ports: what the last cycle held (process callback only) */
    int prev_count;
    ring_t out;          /* output ports: events from the sender, in the order sent */
    /* output ports, owned by the process callback: events moved from ``out``, sorted by
     * time (stable), a circular array of PEND_SLOTS */
    slot_t *pend;
    uint32_t pend_head, pend_count;
    _Atomic uint32_t pend_visible; /* pend_count as others may read it (mj_drain) */
    _Atomic int wd_state;
    uint64_t wd_from;    /* JACK us: withdraw timed events at or after this (or the next cycle) */
    uint64_t wd_cutoff;  /* JACK us: what was withdrawn is at or after this, the rest will play */
    int wd_count;
    uint32_t *wd_ids;    /* PEND_SLOTS ids of the withdrawn events */
} port_t;

typedef struct {
    jack_client_t *client;
    port_t ports[MAX_PORTS];
    _Atomic int nports;  /* published after a port is fully set up */
    ring_t in;           /* every input port's events, in arrival order */
    int wake[2];         /* pipe: the process callback wakes mj_wait */
    _Atomic int dead;    /* the server shut the client down */
    _Atomic uint64_t dropped;   /* input lost to a full ring */
    _Atomic uint64_t oversize;  /* input longer than SLOT_DATA */
    _Atomic uint64_t deferred;  /* output events moved to a later cycle (port buffer full) */
    _Atomic uint64_t frame_jumps; /* cycles that did not start where the last one ended, or
                                   * whose frames' time lay over 2 periods ahead of the wall */
    _Atomic uint64_t repeated;    /* input events of a cycle handed again, dropped */
    _Atomic uint64_t in_high;      /* the most events the input ring held at once */
    _Atomic uint64_t last_jump_us; /* JACK time of the last cycle that did not start where expected */
    _Atomic uint64_t last_xrun_us; /* JACK time of the server's last xrun notice (any client late) */
    _Atomic uint64_t xruns;        /* xrun notices from the server */
    _Atomic uint64_t cycles;    /* process callbacks */
    _Atomic uint64_t base_steps; /* times the time base moved, by whole periods (tb_cycle) */
    /* The last BASE_LOG moves of the time base, entry base_steps % BASE_LOG the next to
     * write (process callback writes, any thread reads: see mj_base_shift_ns). */
    struct {
        _Atomic int64_t at_us;     /* the new base's time of the first frame it applied to */
        _Atomic int64_t before_us; /* the base's total move before it, and after it */
        _Atomic int64_t after_us;
    } base_log[BASE_LOG];
    double base_moved_us; /* the total move so far (process callback only) */
    int64_t cycle_move_us; /* this cycle's move of the base, 0 if none (process callback only) */
    /* JACK us the first time base gave the server's frame 0 (of the frame counter's
     * current wrap): set on the first cycle and on a rate change, never by a move
     * (see mj_frame_zero_ns). */
    _Atomic int64_t frame_zero_us;
    _Atomic int frames_only; /* never move the time base (mj_keep_to_frames) */
    jack_nframes_t next_frame;  /* where the next cycle should start (process callback only) */
    jack_nframes_t last_start;  /* the first frame of the last cycle (process callback only) */
    int have_frame;
    /* This client's time base (process callback only; see tb_cycle): the time of frame
     * ``ext`` (frames counted since the first cycle, never wrapping) is
     * tb_off + ext * us_per_frame, in JACK microseconds. */
    int64_t ext;          /* the first frame of this cycle, counted from the first cycle */
    double tb_off, us_per_frame;
    int lag_run;          /* cycles in a row that ran more than STEP_US off their frames, one way */
    int64_t lag_min;      /* ...and the least of those lags */
    int64_t send_offset;  /* CLOCK_MONOTONIC minus JACK time for placing output (mj_send's thread) */
    int send_offset_set;
} mj_t;

/* The time of the ext-th frame, and the frame of a time (process callback). */
static inline int64_t round_half_away(double x) { return (int64_t)(x < 0 ? x - 0.5 : x + 0.5); }
static inline uint64_t tb_time(const mj_t *h, int64_t ext) {
    return (uint64_t)round_half_away(h->tb_off + (double)ext * h->us_per_frame);
}
static inline int64_t tb_frame(const mj_t *h, uint64_t us) {
    return round_half_away(((double)us - h->tb_off) / h->us_per_frame);
}

/* Insert ``s`` into the port's pending events, after every event of the same or an
 * earlier time (process callback). 0, or -1 when full. */
static int pend_insert(port_t *p, const slot_t *s, uint64_t earliest) {
    if (p->pend_count >= PEND_SLOTS) return -1;
    uint32_t mask = PEND_SLOTS - 1;
    slot_t item = *s;
    if (item.asap) { /* after everything held, never before */
        item.time = earliest;
        if (p->pend_count) {
            uint64_t last = p->pend[(p->pend_head + p->pend_count - 1) & mask].time;
            if (last > item.time) item.time = last;
        }
    }
    uint32_t k = p->pend_count;
    while (k > 0 && p->pend[(p->pend_head + k - 1) & mask].time > item.time) {
        p->pend[(p->pend_head + k) & mask] = p->pend[(p->pend_head + k - 1) & mask];
        k--;
    }
    p->pend[(p->pend_head + k) & mask] = item;
    p->pend_count++;
    return 0;
}

/* Answer a withdrawal request (process callback, before this cycle's events are written):
 * timed events at or after max(wd_from, the first frame of the next cycle) leave ``pend``. */
static void pend_withdraw(mj_t *h, port_t *p, jack_nframes_t nframes) {
    int expected = WD_ASKED;
    if (!atomic_compare_exchange_strong(&p->wd_state, &expected, WD_TAKEN)) return;
    uint64_t cutoff = tb_time(h, h->ext + nframes);
    if (p->wd_from > cutoff) cutoff = p->wd_from;
    uint32_t mask = PEND_SLOTS - 1, kept = 0;
    int count = 0;
    for (uint32_t k = 0; k < p->pend_count; k++) {
        slot_t *s = &p->pend[(p->pend_head + k) & mask];
        if (!s->asap && s->time >= cutoff) {
            p->wd_ids[count++] = s->id;
        } else {
            if (kept != k) p->pend[(p->pend_head + kept) & mask] = *s;
            kept++;
        }
    }
    p->pend_count = kept;
    p->wd_cutoff = cutoff;
    p->wd_count = count;
    atomic_store_explicit(&p->wd_state, WD_DONE, memory_order_release);
}

/* An event keeps the frame it was handed over for: when the time base moves, everything
 * the port holds and everything already in its ring (sent before this cycle, on the old
 * base) moves with it. Without this, a move right after a chord was handed over put it
 * the move's length (7 periods: 9.3 ms) off the DAW's beat on the frames. */
static inline uint64_t moved_time(uint64_t t, int64_t move) {
    int64_t moved = (int64_t)t + move;
    return moved > 0 ? (uint64_t)moved : 1;
}

static void process_output(mj_t *h, port_t *p, void *buf, jack_nframes_t nframes) {
    J.midi_clear_buffer(buf);
    uint64_t now_us = tb_time(h, h->ext);
    int64_t move = h->cycle_move_us;
    uint32_t mask = PEND_SLOTS - 1;
    if (move)
        for (uint32_t k = 0; k < p->pend_count; k++) {
            slot_t *held = &p->pend[(p->pend_head + k) & mask];
            held->time = moved_time(held->time, move);
        }
    slot_t *s;
    while ((s = ring_front(&p->out)) != NULL) {
        slot_t sent = *s;
        if (move && !sent.asap) sent.time = moved_time(sent.time, move);
        if (pend_insert(p, &sent, now_us) != 0) {
            atomic_fetch_add_explicit(&h->deferred, 1, memory_order_relaxed);
            break; /* full: the rest wait in the ring */
        }
        ring_pop(&p->out);
    }
    pend_withdraw(h, p, nframes);
    jack_nframes_t last = 0;
    while (p->pend_count) {
        s = &p->pend[p->pend_head & mask];
        int64_t d = tb_frame(h, s->time) - h->ext;
        if (d >= (int64_t)nframes) break; /* due in a later cycle */
        jack_nframes_t offset = d < 0 ? 0 : (jack_nframes_t)d;
        if (offset < last) offset = last; /* JACK wants events in time order */
        if (J.midi_event_write(buf, offset, s->data, s->size) != 0) {
            atomic_fetch_add_explicit(&h->deferred, 1, memory_order_relaxed);
            break; /* buffer full: the rest go out next cycle, in order */
        }
        last = offset;
        p->pend_head++;
        p->pend_count--;
    }
    atomic_store_explicit(&p->pend_visible, p->pend_count, memory_order_release);
}

static int same_event(const seen_t *a, const jack_midi_event_t *ev) {
    size_t n = ev->size < sizeof a->data ? ev->size : sizeof a->data;
    return a->offset == ev->time && a->size == ev->size && memcmp(a->data, ev->buffer, n) == 0;
}

/* How this cycle's events compare with the last cycle's: 0 if they differ in count, order,
 * offsets or bytes (or there are none), else SAME | NOT_REALTIME (it holds a message that
 * is not a realtime byte) | CLOCK_OFF_ZERO (it holds a clock pulse, none at offset 0). */
#define SAME 1
#define NOT_REALTIME 2
#define CLOCK_OFF_ZERO 4
static int compare_last_cycle(const port_t *p, void *buf, uint32_t n) {
    if (n == 0 || (int)n != p->prev_count) return 0;
    int flags = SAME, clock = 0, clock_at_zero = 0;
    for (uint32_t k = 0; k < n; k++) {
        jack_midi_event_t ev;
        if (J.midi_event_get(&ev, buf, k) != 0 || ev.size == 0 || !same_event(&p->prev[k], &ev)) return 0;
        if (ev.buffer[0] < 0xF8) flags |= NOT_REALTIME;
        if (ev.buffer[0] == 0xF8) {
            clock = 1;
            clock_at_zero |= ev.time == 0;
        }
    }
    return flags | (clock && !clock_at_zero ? CLOCK_OFF_ZERO : 0);
}

/* Move one input port's events into the input ring. Two kinds of cycle hold the last
 * cycle's events a second time, and are counted and dropped:
 *  - ``again``: this cycle has the first frame of the last one. After a stall of the
 *    server jack2 then sometimes hands the last cycle's buffer again (seen: 2-4 of 1,500
 *    notes in 25 stalls of 35-45 ms, same bytes at the same frames). Only a whole cycle
 *    that holds more than realtime bytes: single events equal to one of the last cycle's
 *    are often new ones (a sender writes what fell due during the stall at offset 0: in
 *    a dense stream the same note-off, in a clock the same pulse), and dropping a new
 *    note-off would leave a note hanging.
 *  - ``short_next``: this cycle follows the last one and is shorter than the shortest
 *    clock pulse (6.25 ms, 400 BPM). When a sending client "was not finished" in a cycle
 *    (an xrun), jack2 hands its port's last buffer again in the next (seen: 1-7 extra
 *    pulses in 684 over 16 s with hundreds of such xruns on a busy machine, each one put
 *    the grid half a tick early). A clock pulse at the same offset in the next cycle
 *    would be a pulse one period after the last, faster than any tempo: a cycle equal to
 *    the last that holds clock pulses is such a re-read. Not where a pulse sits at
 *    offset 0: a sender catching up writes overdue pulses there, one per cycle. */
static int process_input(mj_t *h, port_t *p, int index, void *buf, int again, int short_next) {
    int received = 0;
    uint32_t n = J.midi_get_event_count(buf);
    int same = (again || short_next) && n <= PREV_EVENTS ? compare_last_cycle(p, buf, n) : 0;
    int repeat = (again && (same & NOT_REALTIME)) || ((again || short_next) && (same & CLOCK_OFF_ZERO));
    p->prev_count = 0;
    for (uint32_t k = 0; k < n; k++) {
        jack_midi_event_t ev;
        if (J.midi_event_get(&ev, buf, k) != 0) continue;
        if (ev.size == 0) continue;
        if (p->prev_count < PREV_EVENTS) {
            seen_t *seen = &p->prev[p->prev_count++];
            seen->offset = ev.time;
            seen->size = (uint16_t)(ev.size > 0xFFFF ? 0xFFFF : ev.size);
            memcpy(seen->data, ev.buffer, ev.size < sizeof seen->data ? ev.size : sizeof seen->data);
        }
        if (repeat) {
            atomic_fetch_add_explicit(&h->repeated, 1, memory_order_relaxed);
            continue;
        }
        if (ev.size > SLOT_DATA) {
            atomic_fetch_add_explicit(&h->oversize, 1, memory_order_relaxed);
            continue;
        }
        slot_t *s = ring_back(&h->in);
        if (!s) {
            atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
            continue;
        }
        s->time = tb_time(h, h->ext + ev.time);
        s->size = (uint16_t)ev.size;
        s->port = (uint8_t)index;
        memcpy(s->data, ev.buffer, ev.size);
        ring_push(&h->in);
        received = 1;
        uint64_t fill = atomic_load_explicit(&h->in.head, memory_order_relaxed) -
                        atomic_load_explicit(&h->in.tail, memory_order_relaxed);
        if (fill > atomic_load_explicit(&h->in_high, memory_order_relaxed))
            atomic_store_explicit(&h->in_high, fill, memory_order_relaxed);
    }
    return received;
}

/* Where this cycle's frames lie in time, by this client's own time base (process
 * callback, first thing in the cycle): the frames are the truth, so the base is the
 * frame count at the nominal rate from a fixed origin, and it moves only by whole
 * periods, when the frames have drifted far from the wall clock.
 *
 * jack2's own mapping (jack_frames_to_time) is a filter that a stall of the server
 * throws off for seconds: measured after one 40 ms stall of the dummy driver, it put a
 * cycle's frames 40 ms before the wall, swung to 12 ms after it, and was still 12 ms off
 * 2 s later, while the frames themselves went on at the wall's pace. Through it a note
 * handed over for a beat was stamped or written tens of ms off that beat. A base that
 * is linear in the frames keeps what is stamped (the DAW's clock) and what is placed
 * (our answer) on the same frames, and a peer with its own such base differs from ours
 * by a constant, which cancels between its clock and our answer.
 *
 * A stall of the server leaves the frames behind the wall by its length (the dummy
 * driver does not catch up; a sound card does not stall); so does a busy machine, a few
 * ms at a time. When LAG_CYCLES cycles in a row run more than STEP_US behind (or ahead
 * of) their frames, the base moves by the least of those lags, in whole periods, so that
 * clients that saw nearly the same lags move by the same amount: counted as a jump. */
#define LAG_CYCLES 8
#define STEP_US 10000.0 /* a drift from the wall the engine's timing does not mind */

static inline double fabs_(double x) { return x < 0 ? -x : x; }

static int tb_cycle(mj_t *h, jack_nframes_t start, jack_nframes_t nframes, jack_time_t now_us) {
    jack_nframes_t rate = J.get_sample_rate(h->client);
    double period_us = (double)nframes * 1e6 / rate;
    double step_us = STEP_US > 4 * period_us ? STEP_US : 4 * period_us;
    if (!h->have_frame) {
        h->ext = 0;
        h->us_per_frame = 1e6 / rate;
        /* jack2's mapping where it is near the wall (it is, but after a stall): clients
         * opened together then start from nearly the same origin */
        double dll = (double)J.frames_to_time(h->client, start);
        h->tb_off = fabs_((double)now_us - dll) < 2 * period_us ? dll : (double)now_us;
        h->lag_run = 0;
        atomic_store_explicit(&h->frame_zero_us,
                              round_half_away(h->tb_off - (double)start * h->us_per_frame),
                              memory_order_release);
        return 0;
    }
    int jumped = start != h->next_frame && start != h->last_start;
    h->ext += (int32_t)(start - h->last_start); /* wraps of the 32-bit frame count undone */
    if (1e6 / rate != h->us_per_frame) { /* the rate changed: keep this frame's time */
        h->tb_off += (double)h->ext * (h->us_per_frame - 1e6 / rate);
        h->us_per_frame = 1e6 / rate;
        atomic_store_explicit(&h->frame_zero_us,
                              round_half_away(h->tb_off - h->base_moved_us -
                                              (double)(start - (uint32_t)h->ext) * h->us_per_frame),
                              memory_order_release);
    }
    double late = (double)now_us - (h->tb_off + (double)h->ext * h->us_per_frame);
    h->cycle_move_us = 0;
    if (atomic_load_explicit(&h->frames_only, memory_order_relaxed)) return jumped;
    if (fabs_(late) > step_us && (h->lag_run == 0 || (late > 0) == (h->lag_min > 0))) {
        if (h->lag_run == 0 || fabs_(late) < fabs_((double)h->lag_min)) h->lag_min = (int64_t)late;
        if (++h->lag_run >= LAG_CYCLES) {
            double whole = (double)(int64_t)((double)h->lag_min / period_us); /* toward zero */
            h->tb_off += whole * period_us;
            uint64_t n = atomic_load_explicit(&h->base_steps, memory_order_relaxed);
            int slot = (int)(n % BASE_LOG);
            atomic_store_explicit(&h->base_log[slot].at_us, (int64_t)tb_time(h, h->ext), memory_order_relaxed);
            atomic_store_explicit(&h->base_log[slot].before_us, round_half_away(h->base_moved_us),
                                  memory_order_relaxed);
            h->base_moved_us += whole * period_us;
            h->cycle_move_us = round_half_away(whole * period_us);
            atomic_store_explicit(&h->base_log[slot].after_us, round_half_away(h->base_moved_us),
                                  memory_order_relaxed);
            atomic_fetch_add_explicit(&h->base_steps, 1, memory_order_release);
            jumped = 1;
            h->lag_run = 0;
        }
    } else {
        h->lag_run = 0;
    }
    return jumped;
}

static int mj_process(jack_nframes_t nframes, void *arg) {
    mj_t *h = arg;
    jack_time_t now_us = J.get_time();
    int nports = atomic_load_explicit(&h->nports, memory_order_acquire);
    jack_nframes_t start = J.last_frame_time(h->client);
    int received = 0;
    int again = h->have_frame && start == h->last_start;
    int next = h->have_frame && start == h->next_frame;
    atomic_fetch_add_explicit(&h->cycles, 1, memory_order_relaxed);
    /* A cycle that does not start where the last one ended (jack2, after a stall of the
     * server, may start one a period ahead and give the next the same first frame), or
     * whose time base had to move: counted, and input around it is timing-unsure. */
    if (tb_cycle(h, start, nframes, now_us)) {
        atomic_fetch_add_explicit(&h->frame_jumps, 1, memory_order_relaxed);
        atomic_store_explicit(&h->last_jump_us, now_us, memory_order_relaxed);
    }
    int short_next = next && (double)nframes * h->us_per_frame < MIN_PULSE_US;
    for (int i = 0; i < nports; i++) {
        port_t *p = &h->ports[i];
        void *buf = J.port_get_buffer(p->port, nframes);
        if (!buf) continue;
        if (p->is_output)
            process_output(h, p, buf, nframes);
        else
            received |= process_input(h, p, i, buf, again, short_next);
    }
    h->next_frame = start + nframes;
    h->last_start = start;
    h->have_frame = 1;
    if (received) {
        char b = 1;
        ssize_t ignored = write(h->wake[1], &b, 1); /* non-blocking; a full pipe is already awake */
        (void)ignored;
    }
    return 0;
}

/* The server's notice of an xrun (its notification thread): a client, ours or another, was
 * not finished in a cycle. The sender's events of that cycle then come a cycle late, or its
 * last buffer comes again, or they are lost; so timing read from input around it is not
 * evidence of lost or repeated events (see mj_last_jump_ns). */
static int mj_xrun(void *arg) {
    mj_t *h = arg;
    atomic_store_explicit(&h->last_xrun_us, J.get_time(), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->xruns, 1, memory_order_relaxed);
    return 0;
}

/* JACK's latency callback (its own thread; may run while Python adds ports). Nothing
 * passes through this client: what an input receives ends here, what an output sends
 * is made here, each event written at the frame it should sound. So an output's
 * capture latency and an input's playback latency are the port's own (0 unless
 * mj_set_latency says otherwise), never what lies beyond our other ports: without
 * this callback JACK takes every input to feed every output, and a DAW recording our
 * output would compensate for its own playback path as if our answers had come
 * through it. */
static void mj_latency(int mode, void *arg) {
    mj_t *h = arg;
    int n = atomic_load_explicit(&h->nports, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        port_t *p = &h->ports[i];
        if ((mode == JACK_CAPTURE_LATENCY) != (p->is_output != 0)) continue;
        jack_nframes_t own = atomic_load(&p->own_latency);
        jack_latency_range_t range = {own, own};
        J.port_set_latency_range(p->port, mode, &range);
    }
}

static void mj_shutdown(void *arg) {
    mj_t *h = arg;
    atomic_store(&h->dead, 1);
    char b = 1;
    ssize_t ignored = write(h->wake[1], &b, 1);
    (void)ignored;
}

/* Offset from JACK's clock (us) to CLOCK_MONOTONIC (ns), read now: the JACK reading
 * bracketed by two of ours, best of three (a preemption inside a bracket spoils it). */
static int64_t mono_minus_jack_ns(void) {
    int64_t best = 0, best_width = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        jack_time_t j = J.get_time();
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t ta = (int64_t)a.tv_sec * 1000000000 + a.tv_nsec, tb = (int64_t)b.tv_sec * 1000000000 + b.tv_nsec;
        if (tb - ta < best_width) {
            best_width = tb - ta;
            best = (ta + tb) / 2 - (int64_t)j * 1000;
        }
    }
    return best;
}

/* The clocks' difference for placing output (the sender's thread): read anew it wobbles
 * by a microsecond, so two messages sent for one time (a note-off and the note-on that
 * strikes the note again) could land in either order. It is kept while a new reading
 * stays within SEND_OFFSET_SLACK_NS of it: both clocks tick at the same rate, and a real
 * change (a clock stepped) is far larger. */
#define SEND_OFFSET_SLACK_NS 50000
static int64_t send_offset_ns(mj_t *h) {
    int64_t now = mono_minus_jack_ns();
    if (!h->send_offset_set || now - h->send_offset > SEND_OFFSET_SLACK_NS ||
        h->send_offset - now > SEND_OFFSET_SLACK_NS) {
        h->send_offset = now;
        h->send_offset_set = 1;
    }
    return h->send_offset;
}

MJ_EXPORT const char *mj_load_error(void) {
    return load_error;
}

/* Open and activate a client named ``name`` (JACK may add a suffix); NULL on failure
 * (mj_load_error says why). */
MJ_EXPORT mj_t *mj_open(const char *name) {
    if (load_jack() != 0) return NULL;
    mj_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(load_error, sizeof load_error, "out of memory");
        return NULL;
    }
    if (ring_init(&h->in, IN_SLOTS) != 0 || pipe(h->wake) != 0) {
        snprintf(load_error, sizeof load_error, "cannot allocate the input ring or wake pipe");
        free(h->in.slots);
        free(h);
        return NULL;
    }
    fcntl(h->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(h->wake[1], F_SETFL, O_NONBLOCK);
    fcntl(h->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(h->wake[1], F_SETFD, FD_CLOEXEC);
    int status = 0;
    h->client = J.client_open(name, JACK_NO_START_SERVER, &status);
    if (!h->client) {
        snprintf(load_error, sizeof load_error, "jack_client_open failed (status 0x%x): no JACK server running?", status);
        goto fail;
    }
    J.set_process_callback(h->client, mj_process, h);
    J.set_xrun_callback(h->client, mj_xrun, h);
    J.on_shutdown(h->client, mj_shutdown, h);
    if (J.set_latency_callback) J.set_latency_callback(h->client, mj_latency, h);
    if (J.activate(h->client) != 0) {
        snprintf(load_error, sizeof load_error, "jack_activate failed");
        J.client_close(h->client);
        goto fail;
    }
    return h;
fail:
    close(h->wake[0]);
    close(h->wake[1]);
    free(h->in.slots);
    free(h);
    return NULL;
}

/* Register a port; its index, or -1 (mj_load_error says why). */
MJ_EXPORT int mj_add_port(mj_t *h, const char *name, int is_output) {
    int n = atomic_load(&h->nports);
    if (n >= MAX_PORTS) {
        snprintf(load_error, sizeof load_error, "more than %d ports", MAX_PORTS);
        return -1;
    }
    port_t *p = &h->ports[n];
    memset(p, 0, sizeof *p);
    p->is_output = is_output;
    if (is_output) {
        p->pend = calloc(PEND_SLOTS, sizeof(slot_t));
        p->wd_ids = calloc(PEND_SLOTS, sizeof(uint32_t));
        if (!p->pend || !p->wd_ids || ring_init(&p->out, OUT_SLOTS) != 0) {
            free(p->pend);
            free(p->wd_ids);
            free(p->out.slots);
            memset(p, 0, sizeof *p);
            snprintf(load_error, sizeof load_error, "out of memory");
            return -1;
        }
    }
    p->port = J.port_register(h->client, name, MIDI_TYPE, is_output ? JACK_PORT_IS_OUTPUT : JACK_PORT_IS_INPUT, 0);
    if (!p->port) {
        snprintf(load_error, sizeof load_error, "jack_port_register(%s) failed: name taken or too long?", name);
        free(p->out.slots);
        free(p->pend);
        free(p->wd_ids);
        memset(p, 0, sizeof *p);
        return -1;
    }
    atomic_store_explicit(&h->nports, n + 1, memory_order_release);
    return n;
}

/* The port's full name ("client:port"). */
MJ_EXPORT const char *mj_port_name(mj_t *h, int port) {
    return J.port_name(h->ports[port].port);
}

/* Say that ``port`` adds ``frames`` of its own (an output: since its data was made; an
 * input: until its data is used) and have JACK recompute the graph's latencies. 0 on
 * success, -1 where libjack has no latency API. */
MJ_EXPORT int mj_set_latency(mj_t *h, int port, uint32_t frames) {
    if (!J.set_latency_callback || port < 0 || port >= atomic_load(&h->nports)) return -1;
    atomic_store(&h->ports[port].own_latency, frames);
    if (J.recompute_total_latencies && !atomic_load(&h->dead)) J.recompute_total_latencies(h->client);
    return 0;
}

/* 1 if this client reports its ports' latencies to JACK (libjack has the latency API). */
MJ_EXPORT int mj_reports_latency(void) {
    return J.set_latency_callback != NULL;
}

MJ_EXPORT int mj_connect(mj_t *h, const char *source, const char *destination) {
    return J.connect(h->client, source, destination);
}

MJ_EXPORT int mj_alive(mj_t *h) {
    return !atomic_load(&h->dead);
}

MJ_EXPORT uint32_t mj_sample_rate(mj_t *h) {
    return J.get_sample_rate(h->client);
}

MJ_EXPORT uint32_t mj_buffer_size(mj_t *h) {
    return J.get_buffer_size(h->client);
}

/* Counters since the client opened: input dropped (ring full), input too long, output
 * deferred to a later cycle, cycles that did not start where the last one ended, input
 * events of a cycle handed again (dropped), cycles, the input ring's high-water mark, time
 * base moves, the server's xrun notices. */
MJ_EXPORT void mj_counters(mj_t *h, uint64_t *out) {
    out[0] = atomic_load(&h->dropped);
    out[1] = atomic_load(&h->oversize);
    out[2] = atomic_load(&h->deferred);
    out[3] = atomic_load(&h->frame_jumps);
    out[4] = atomic_load(&h->repeated);
    out[5] = atomic_load(&h->cycles);
    out[6] = atomic_load(&h->in_high);
    out[7] = atomic_load(&h->base_steps);
    out[8] = atomic_load(&h->xruns);
}

/* The full names of the ports connected to our ``port``, one per line, into ``out`` (at
 * most ``cap`` bytes, NUL-terminated); the length written, or -1 if they did not fit. */
MJ_EXPORT int mj_connections(mj_t *h, int port, char *out, int cap) {
    out[0] = 0;
    if (atomic_load(&h->dead) || port < 0 || port >= atomic_load(&h->nports)) return 0;
    const char **names = J.port_get_connections(h->ports[port].port);
    if (!names) return 0;
    int used = 0;
    for (int i = 0; names[i]; i++) {
        int len = (int)strlen(names[i]);
        if (used + len + 2 > cap) {
            J.free(names);
            return -1;
        }
        memcpy(out + used, names[i], (size_t)len);
        used += len;
        out[used++] = '\n';
        out[used] = 0;
    }
    J.free(names);
    return used;
}

/* Queue ``size`` bytes on output ``port`` for ``when_ns`` (CLOCK_MONOTONIC; 0: as soon as
 * possible, but after every event the port already holds), with the sender's ``id``.
 * Held events go out in time order (stable); events sent for the same time go out in the
 * order sent. 0 on success; -1 ring full, -2 client dead,
 * -3 bad port or size. */
MJ_EXPORT int mj_send(mj_t *h, int port, const uint8_t *data, int size, int64_t when_ns, uint32_t id) {
    if (atomic_load(&h->dead)) return -2;
    if (port < 0 || port >= atomic_load(&h->nports) || !h->ports[port].is_output || size <= 0 || size > SLOT_DATA)
        return -3;
    slot_t *s = ring_back(&h->ports[port].out);
    if (!s) return -1;
    s->time = 0;
    s->asap = when_ns <= 0;
    if (when_ns > 0) {
        int64_t t = (when_ns - send_offset_ns(h)) / 1000;
        s->time = t > 0 ? (uint64_t)t : 1;
    }
    s->id = id;
    s->size = (uint16_t)size;
    s->port = (uint8_t)port;
    memcpy(s->data, data, (size_t)size);
    ring_push(&h->ports[port].out);
    return 0;
}

/* Take back the timed events of output ``port`` that are not yet committed: those at or
 * after ``from_ns`` (CLOCK_MONOTONIC; 0: now) and after the cycle the server is in when it
 * answers. Their ids go to ``ids`` (PEND_SLOTS of room), the cutoff (CLOCK_MONOTONIC)
 * to ``*cutoff_ns``; everything else sent before this call will play. Waits for the
 * process callback (about a period), at most ``timeout_ms``. Returns the count withdrawn,
 * -1 if the server did not answer in time (nothing withdrawn), -2 if the client is dead.
 * One caller at a time per port (the sender of that port). */
MJ_EXPORT int mj_withdraw(mj_t *h, int port, int64_t from_ns, uint32_t *ids, int64_t *cutoff_ns, int timeout_ms) {
    if (atomic_load(&h->dead)) return -2;
    if (port < 0 || port >= atomic_load(&h->nports) || !h->ports[port].is_output) return -3;
    port_t *p = &h->ports[port];
    int64_t from = from_ns > 0 ? (from_ns - mono_minus_jack_ns()) / 1000 : 0;
    p->wd_from = from > 0 ? (uint64_t)from : 0;
    atomic_store_explicit(&p->wd_state, WD_ASKED, memory_order_release);
    struct timespec step = {0, 100000};
    for (int waited = 0; waited <= timeout_ms * 10; waited++) {
        if (atomic_load_explicit(&p->wd_state, memory_order_acquire) == WD_DONE) break;
        if (atomic_load(&h->dead)) break;
        nanosleep(&step, NULL);
    }
    int expected = WD_ASKED;
    if (atomic_compare_exchange_strong(&p->wd_state, &expected, WD_IDLE))
        return atomic_load(&h->dead) ? -2 : -1; /* not taken: given up, nothing withdrawn */
    while (atomic_load_explicit(&p->wd_state, memory_order_acquire) != WD_DONE) {
        /* taken: the process callback finishes it within microseconds */
    }
    int count = p->wd_count;
    memcpy(ids, p->wd_ids, (size_t)count * sizeof(uint32_t));
    *cutoff_ns = (int64_t)p->wd_cutoff * 1000 + mono_minus_jack_ns();
    atomic_store_explicit(&p->wd_state, WD_IDLE, memory_order_release);
    return count;
}

/* When (CLOCK_MONOTONIC ns) a cycle last failed to start where the one before ended, or the
 * server last told of an xrun, 0 if never: after a stall of the server its frame times may
 * be off by a period or more for a while, and around an xrun a sender's events come late,
 * twice or not at all, so timing read from them then is not evidence of lost or repeated
 * events. */
MJ_EXPORT int64_t mj_last_jump_ns(mj_t *h) {
    uint64_t jump = atomic_load(&h->last_jump_us), xrun = atomic_load(&h->last_xrun_us);
    uint64_t us = jump > xrun ? jump : xrun;
    return us ? (int64_t)us * 1000 + mono_minus_jack_ns() : 0;
}

/* How far (ns) this client's time base had moved, in all, for input stamped at ``ns``
 * (CLOCK_MONOTONIC): 0 before its first move. A stamp taken after a move is that much
 * later than the same frame's stamp before it, so times read from input before and after
 * a move compare once this is taken off. A stamp older than the last BASE_LOG moves gets
 * the oldest one's "before"; one in the overlap a backward move makes (a period or so)
 * counts as after it. Any thread. */
MJ_EXPORT int64_t mj_base_shift_ns(mj_t *h, int64_t ns) {
    uint64_t n = atomic_load_explicit(&h->base_steps, memory_order_acquire);
    if (n == 0) return 0;
    int64_t us = (ns - mono_minus_jack_ns()) / 1000;
    uint64_t oldest = n > BASE_LOG ? n - BASE_LOG : 0;
    for (uint64_t i = n; i-- > oldest;) {
        int slot = (int)(i % BASE_LOG);
        if (atomic_load_explicit(&h->base_log[slot].at_us, memory_order_relaxed) <= us)
            return atomic_load_explicit(&h->base_log[slot].after_us, memory_order_relaxed) * 1000;
    }
    return atomic_load_explicit(&h->base_log[oldest % BASE_LOG].before_us, memory_order_relaxed) * 1000;
}

/* From now on this client's time base never moves: its times are its frames', however
 * far they fall behind the wall, as a DAW's timeline is (a DAW stand-in in tests and
 * benchmarks; our own ports keep near the wall, see tb_cycle). Any thread. */
MJ_EXPORT void mj_keep_to_frames(mj_t *h) {
    atomic_store(&h->frames_only, 1);
}

/* The time (ns, CLOCK_MONOTONIC) this client's first time base gave the server's frame
 * 0, or 0 before the first cycle. Stamps and placements agree with it once the base's
 * moves (mj_base_shift_ns) are taken off: frame = (ns - shift - zero) / ns per frame,
 * the same frame number every client of the server sees (until the 32-bit frame
 * counter wraps: 24 h at 48 kHz). For judging timing across clients. Any thread. */
MJ_EXPORT int64_t mj_frame_zero_ns(mj_t *h) {
    int64_t us = atomic_load_explicit(&h->frame_zero_us, memory_order_acquire);
    return us ? us * 1000 + mono_minus_jack_ns() : 0;
}

MJ_EXPORT int mj_pending_slots(void) {
    return PEND_SLOTS;
}

/* Wait up to ``timeout_ms`` for input (or a wake-up); 1 if woken, 0 on timeout. */
MJ_EXPORT int mj_wait(mj_t *h, int timeout_ms) {
    if (!ring_empty(&h->in)) return 1;
    struct pollfd fd = {.fd = h->wake[0], .events = POLLIN};
    int r = poll(&fd, 1, timeout_ms);
    char drain[64];
    while (read(h->wake[0], drain, sizeof drain) > 0) {
    }
    return r > 0;
}

/* Wake a thread blocked in mj_wait (to stop it). */
MJ_EXPORT void mj_wake(mj_t *h) {
    char b = 1;
    ssize_t ignored = write(h->wake[1], &b, 1);
    (void)ignored;
}

/* Take up to ``cap`` input events: their bytes go to ``data`` (SLOT_DATA bytes each),
 * sizes to ``sizes``, ports to ``ports``, CLOCK_MONOTONIC ns to ``times``. Returns the count. */
MJ_EXPORT int mj_read(mj_t *h, uint8_t *data, int32_t *sizes, int32_t *ports, int64_t *times, int cap) {
    int n = 0;
    int64_t offset = mono_minus_jack_ns();
    slot_t *s;
    while (n < cap && (s = ring_front(&h->in)) != NULL) {
        memcpy(data + (size_t)n * SLOT_DATA, s->data, s->size);
        sizes[n] = s->size;
        ports[n] = s->port;
        times[n] = (int64_t)s->time * 1000 + offset;
        ring_pop(&h->in);
        n++;
    }
    return n;
}

MJ_EXPORT int mj_slot_data(void) {
    return SLOT_DATA;
}

/* Wait up to ``timeout_ms`` until every output has sent all it holds; 1 if so. */
MJ_EXPORT int mj_drain(mj_t *h, int timeout_ms) {
    struct timespec step = {0, 500000};
    for (int waited = 0; waited <= timeout_ms * 2; waited++) {
        int pending = 0, n = atomic_load(&h->nports);
        for (int i = 0; i < n; i++)
            if (h->ports[i].is_output &&
                (!ring_empty(&h->ports[i].out) || atomic_load(&h->ports[i].pend_visible) > 0))
                pending = 1;
        if (!pending) return 1;
        if (atomic_load(&h->dead)) return 0;
        nanosleep(&step, NULL);
    }
    return 0;
}

/* Deactivate, close and free; ``h`` is invalid afterwards (unless the client is dead: see below). */
MJ_EXPORT void mj_close(mj_t *h) {
    if (!h) return;
    /* A client the server shut down is left as it is: jack_client_close on it crashed
     * (jack2, after the server was stopped), and its threads may still touch ``h``.
     * It costs a few MB per server restart. */
    if (atomic_load(&h->dead)) return;
    J.deactivate(h->client);
    J.client_close(h->client);
    int n = atomic_load(&h->nports);
    for (int i = 0; i < n; i++) {
        free(h->ports[i].out.slots);
        free(h->ports[i].pend);
        free(h->ports[i].wd_ids);
    }
    close(h->wake[0]);
    close(h->wake[1]);
    free(h->in.slots);
    free(h);
}
