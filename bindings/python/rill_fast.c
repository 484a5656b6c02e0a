/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill._fast: the per-message calls of the Python binding in C.
 *
 * cffi's calls cost a microsecond each once Python has checked its
 * arguments, more than rill's own work by far; send(), recv() and their
 * batch forms are what a Python producer or consumer calls per message,
 * so they are methods of the C types here, which rill.Producer and
 * rill.Consumer (rill/__init__.py) derive from.  Everything else stays in
 * Python over cffi.
 *
 * This file is compiled into the cffi extension rill._rill (rill_build.py),
 * beside librill's sources, and rill/__init__.py loads the same shared
 * object a second time as rill._fast (PEP 489: one library may hold the
 * init functions of several modules).  So there is one copy of librill in
 * the process (its SIGBUS handler and mapping registry are process-wide):
 * the handles cffi made are the handles used here.
 *
 * Threads.  A handle is used by one thread at a time: Guard is the busy
 * flag both sides check (Python's "with self._guard" and the calls here).
 * Every flag and field is read and written with the GIL held; the GIL is
 * released only inside the rill calls that wait or copy a large message,
 * with the flag set.
 *
 * Lifetimes.  Handle owns a librill handle (region, producer, consumer,
 * rpc client) and frees it in its tp_dealloc: when the last reference
 * goes, never in a finalizer, so that no __del__ of a reference cycle can
 * run after it and use a freed handle.  The endpoint, and every memoryview
 * over its mapping, hold a reference to it.
 *
 * One interpreter: the types are static and _setup's objects global, so
 * a second interpreter that imports rill gets ImportError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill.h"
#include "rill_rpc.h"

#define FOREVER UINT64_MAX
/* A wait is cut in slices this long so that signals (Ctrl-C) are handled
 * between them (the same slice as rill/__init__.py's _wait). */
#define SLICE_NS 250000000ull
/* Messages this large are copied with the GIL released. */
#define BIG 65536

/* Set once by _setup(): rill._errors.error(rc, message) -> exception, and
 * the Meta named tuple class. */
static PyObject *error_fn;
static PyObject *meta_cls;

static PyObject *raise_rc(int64_t rc, const char *message) {
  if (!error_fn) {
    PyErr_SetString(PyExc_RuntimeError, "rill._fast: _setup() was not called");
    return NULL;
  }
  PyObject *e = message ? PyObject_CallFunction(error_fn, "Ls", (long long)rc, message)
                        : PyObject_CallFunction(error_fn, "L", (long long)rc);
  if (e) {
    PyErr_SetObject((PyObject *)Py_TYPE(e), e);
    Py_DECREF(e);
  }
  return NULL;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Handle ---------------------------------------------------------- */

enum { H_REGION, H_PRODUCER, H_CONSUMER, H_RPC_CLIENT, H_KINDS };

typedef struct {
  PyObject_HEAD
  void *p; /* NULL once released */
  int kind;
} Handle;

static void handle_free(Handle *h) {
  void *p = h->p;
  h->p = NULL;
  if (!p) return;
  Py_BEGIN_ALLOW_THREADS
  switch (h->kind) {
  case H_REGION: rill_region_close(p); break;
  case H_PRODUCER: rill_producer_leave(p); break;
  case H_CONSUMER: rill_consumer_leave(p); break;
  default: rill_rpc_close(p); break;
  }
  Py_END_ALLOW_THREADS
}

static int handle_init(Handle *h, PyObject *args, PyObject *kw) {
  unsigned long long addr;
  int kind;
  if (kw && PyDict_GET_SIZE(kw)) {
    PyErr_SetString(PyExc_TypeError, "Handle() takes no keyword arguments");
    return -1;
  }
  if (!PyArg_ParseTuple(args, "Ki", &addr, &kind)) return -1;
  if (kind < 0 || kind >= H_KINDS || !addr) {
    PyErr_SetString(PyExc_ValueError, "Handle(addr, kind): a bad kind or a null address");
    return -1;
  }
  if (h->p) {
    PyErr_SetString(PyExc_RuntimeError, "Handle is already set");
    return -1;
  }
  h->p = (void *)(uintptr_t)addr;
  h->kind = kind;
  return 0;
}

static void handle_dealloc(Handle *h) {
  handle_free(h);
  Py_TYPE(h)->tp_free((PyObject *)h);
}

/* release(): frees the handle now (region and rpc client close()). */
static PyObject *handle_release(Handle *h, PyObject *unused) {
  (void)unused;
  handle_free(h);
  Py_RETURN_NONE;
}

static PyObject *handle_addr(Handle *h, void *unused) {
  (void)unused;
  return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)h->p);
}

static PyMethodDef handle_methods[] = {
    {"release", (PyCFunction)handle_release, METH_NOARGS, "Frees the handle now."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"addr", (getter)handle_addr, NULL, "the handle's address (0 once released)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rill._fast.Handle",
    .tp_doc = "Handle(addr, kind): owns a librill handle, freed when the last reference goes.",
    .tp_basicsize = sizeof(Handle),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)handle_init,
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_methods = handle_methods,
    .tp_getset = handle_getset,
};

/* ---- Span ------------------------------------------------------------ */

/* Span(handle, addr, size, readonly): the bytes of a poll() or reserve()
 * view, exported through the buffer protocol.  It keeps the endpoint's
 * Handle (so the mapping) alive, and counts its exports: the memoryview
 * the binding hands out holds one, and so does everything made from that
 * memoryview which shares its buffer (slices, memoryview(view),
 * numpy.frombuffer), until it goes.  After releasing its memoryview, the
 * endpoint's next call sees whether anything else still reads or writes
 * the ring through it, and refuses (BufferError) rather than let it read
 * reused memory. */
typedef struct {
  PyObject_HEAD
  Handle *owner;
  void *p;
  Py_ssize_t n;
  int readonly;
  Py_ssize_t exports;
} Span;

static int span_init(Span *sp, PyObject *args, PyObject *kw) {
  Handle *owner;
  unsigned long long addr;
  Py_ssize_t n;
  int ro;
  if (kw && PyDict_GET_SIZE(kw)) {
    PyErr_SetString(PyExc_TypeError, "Span() takes no keyword arguments");
    return -1;
  }
  if (!PyArg_ParseTuple(args, "O!Knp", &HandleType, &owner, &addr, &n, &ro)) return -1;
  if (sp->owner || n < 0 || (!addr && n)) {
    PyErr_SetString(PyExc_ValueError, "Span(): set already, or a bad address or size");
    return -1;
  }
  Py_INCREF(owner);
  sp->owner = owner;
  sp->p = (void *)(uintptr_t)addr;
  sp->n = n;
  sp->readonly = ro;
  return 0;
}

static void span_dealloc(Span *sp) {
  Py_CLEAR(sp->owner);
  Py_TYPE(sp)->tp_free((PyObject *)sp);
}

static int span_getbuffer(Span *sp, Py_buffer *view, int flags) {
  if (!sp->owner) {
    PyErr_SetString(PyExc_BufferError, "an empty Span");
    view->obj = NULL;
    return -1;
  }
  if (PyBuffer_FillInfo(view, (PyObject *)sp, sp->p, sp->n, sp->readonly, flags)) return -1;
  sp->exports++;
  return 0;
}

static void span_releasebuffer(Span *sp, Py_buffer *view) {
  (void)view;
  sp->exports--;
}

static PyBufferProcs span_as_buffer = {
    .bf_getbuffer = (getbufferproc)span_getbuffer,
    .bf_releasebuffer = (releasebufferproc)span_releasebuffer,
};

static PyMemberDef span_members[] = {
    {"exports", T_PYSSIZET, offsetof(Span, exports), READONLY,
     "buffers exported and not released yet"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rill._fast.Span",
    .tp_doc = "Span(handle, addr, size, readonly): ring bytes behind a view, exports counted.",
    .tp_basicsize = sizeof(Span),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)span_init,
    .tp_dealloc = (destructor)span_dealloc,
    .tp_as_buffer = &span_as_buffer,
    .tp_members = span_members,
};

/* ---- Guard ----------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  int busy;
  PyObject *what; /* "producer", "consumer", ... */
} Guard;

static int guard_init(Guard *g, PyObject *args, PyObject *kw) {
  PyObject *what;
  if (kw && PyDict_GET_SIZE(kw)) {
    PyErr_SetString(PyExc_TypeError, "Guard() takes no keyword arguments");
    return -1;
  }
  if (!PyArg_ParseTuple(args, "U", &what)) return -1;
  Py_INCREF(what);
  Py_XSETREF(g->what, what);
  return 0;
}

static void guard_dealloc(Guard *g) {
  Py_XDECREF(g->what);
  Py_TYPE(g)->tp_free((PyObject *)g);
}

/* Takes the guard, or raises RuntimeError: a second thread in the handle. */
static int guard_take(Guard *g) {
  if (g->busy) {
    PyErr_Format(PyExc_RuntimeError,
                 "this %s is in use by another thread (a handle is used by one thread at a time)",
                 g->what ? PyUnicode_AsUTF8(g->what) : "handle");
    return -1;
  }
  g->busy = 1;
  return 0;
}

static PyObject *guard_enter(Guard *g, PyObject *unused) {
  (void)unused;
  if (guard_take(g)) return NULL;
  Py_RETURN_NONE;
}

static PyObject *guard_exit(Guard *g, PyObject *const *args, Py_ssize_t n) {
  (void)args;
  (void)n;
  g->busy = 0;
  Py_RETURN_FALSE;
}

static PyMethodDef guard_methods[] = {
    {"__enter__", (PyCFunction)guard_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))guard_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GuardType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rill._fast.Guard",
    .tp_doc = "One thread at a time in a handle: a non-blocking busy flag (with-statement).",
    .tp_basicsize = sizeof(Guard),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)guard_init,
    .tp_dealloc = (destructor)guard_dealloc,
    .tp_methods = guard_methods,
};

/* ---- the endpoint base ---------------------------------------------- */

typedef struct {
  PyObject_HEAD
  void *h;       /* rill_producer * or rill_consumer *; NULL: closed */
  Handle *owner; /* owns h */
  Guard *guard;  /* shared with the Python methods */
  int view_out;  /* a memoryview is out: the next call has Python release it */
  PyObject *pending; /* an exception the next call raises (recv_many's) */
  int is_consumer;
  uint64_t max_msg;
  char *buf; /* a consumer's receive buffer, max_msg bytes (at least 1) */
  size_t cap;
  rill_meta meta;
} Ep;

static void ep_dealloc(Ep *e) {
  PyObject_GC_UnTrack(e);
  e->h = NULL;
  Py_CLEAR(e->pending);
  Py_CLEAR(e->owner);
  Py_CLEAR(e->guard);
  free(e->buf);
  Py_TYPE(e)->tp_free((PyObject *)e);
}

static int ep_traverse(Ep *e, visitproc visit, void *arg) {
  Py_VISIT(e->pending);
  Py_VISIT(e->owner);
  Py_VISIT(e->guard);
  return 0;
}

static int ep_clear(Ep *e) {
  e->h = NULL;
  Py_CLEAR(e->pending);
  Py_CLEAR(e->owner);
  Py_CLEAR(e->guard);
  return 0;
}

/* _attach(handle, guard, max_msg): once, with the endpoint's Handle. */
static PyObject *ep_attach(Ep *e, PyObject *args) {
  unsigned long long max_msg;
  Handle *owner;
  Guard *g;
  if (!PyArg_ParseTuple(args, "O!O!K", &HandleType, &owner, &GuardType, &g, &max_msg))
    return NULL;
  if (e->owner || e->guard) {
    PyErr_SetString(PyExc_RuntimeError, "the endpoint is attached already");
    return NULL;
  }
  if (owner->kind != (e->is_consumer ? H_CONSUMER : H_PRODUCER) || !owner->p) {
    PyErr_SetString(PyExc_ValueError, "_attach(): not a live handle of this kind");
    return NULL;
  }
  if (e->is_consumer) {
    size_t cap = max_msg ? (size_t)max_msg : 1;
    char *b = malloc(cap);
    if (!b) return PyErr_NoMemory();
    free(e->buf);
    e->buf = b;
    e->cap = cap;
  }
  Py_INCREF(g);
  e->guard = g;
  Py_INCREF(owner);
  e->owner = owner;
  e->h = owner->p;
  e->max_msg = max_msg;
  Py_RETURN_NONE;
}

/* _detach(): no more calls through the handle (close(); the handle is
 * freed when the views over it are gone too).  The guard is held. */
static PyObject *ep_detach(Ep *e, PyObject *unused) {
  (void)unused;
  e->h = NULL;
  Py_CLEAR(e->owner);
  Py_RETURN_NONE;
}

/* Enters a per-message call: the guard, an open handle, the last view
 * released.  0, or -1 with an exception set (the guard not taken). */
static int ep_enter(Ep *e) {
  if (!e->guard) {
    PyErr_SetString(PyExc_ValueError, "the endpoint is not attached");
    return -1;
  }
  if (guard_take(e->guard)) return -1;
  if (!e->h) {
    e->guard->busy = 0;
    PyErr_Format(PyExc_ValueError, "the %s is closed",
                 e->guard->what ? PyUnicode_AsUTF8(e->guard->what) : "endpoint");
    return -1;
  }
  if (e->pending) {
    PyObject *v = e->pending;
    e->pending = NULL;
    e->guard->busy = 0;
    PyErr_SetObject((PyObject *)Py_TYPE(v), v);
    Py_DECREF(v);
    return -1;
  }
  if (e->view_out) {
    PyObject *r = PyObject_CallMethod((PyObject *)e, "_release_view", NULL);
    if (!r) {
      e->guard->busy = 0;
      return -1;
    }
    Py_DECREF(r);
  }
  return 0;
}

static void ep_leave(Ep *e) { e->guard->busy = 0; }

/* Moves the exception set into e->pending, for the next call. */
static void ep_keep_error(Ep *e) {
#if PY_VERSION_HEX >= 0x030C0000
  PyObject *v = PyErr_GetRaisedException();
#else
  PyObject *t, *v, *tb;
  PyErr_Fetch(&t, &v, &tb);
  PyErr_NormalizeException(&t, &v, &tb);
  Py_XDECREF(t);
  Py_XDECREF(tb);
#endif
  Py_XSETREF(e->pending, v);
}

/* TIMEOUT (None, or seconds >= 0) in ns: FOREVER for None. */
static int parse_timeout(PyObject *t, uint64_t *ns) {
  if (!t || t == Py_None) {
    *ns = FOREVER;
    return 0;
  }
  double s = PyFloat_AsDouble(t);
  if (s == -1.0 && PyErr_Occurred()) return -1;
  if (!(s >= 0)) {
    PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 or None");
    return -1;
  }
  /* beyond 100 years (inf too) is no limit */
  *ns = s >= 3.2e9 ? FOREVER : (uint64_t)(s * 1e9);
  return 0;
}

/* A waiting call of librill, run with the GIL released. */
typedef int64_t (*wait_fn)(Ep *e, void *arg, uint64_t ns);

/* Runs FN for up to NS (FOREVER: no limit) in slices, the GIL released
 * during each and signals checked between them.  Returns FN's result, or
 * INT64_MIN with the exception of a signal handler set. */
static int64_t wait_sliced(Ep *e, wait_fn fn, void *arg, uint64_t ns) {
  uint64_t deadline = ns == FOREVER ? 0 : mono_ns() + ns; /* ns < 2^62: no wrap */
  for (;;) {
    uint64_t left = SLICE_NS;
    if (ns != FOREVER) {
      uint64_t now = mono_ns();
      if (now >= deadline) return -RILL_ETIMEDOUT;
      left = deadline - now;
      if (left > SLICE_NS) left = SLICE_NS;
    }
    int64_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(e, arg, left);
    Py_END_ALLOW_THREADS
    if (rc != -RILL_ETIMEDOUT) return rc;
    if (ns != FOREVER && mono_ns() >= deadline) return rc;
    if (PyErr_CheckSignals()) return INT64_MIN;
  }
}

/* ---- Producer ------------------------------------------------------- */

struct send_arg {
  const void *p;
  size_t n;
  uint64_t sig;
};

static int64_t send_wait(Ep *e, void *a, uint64_t ns) {
  struct send_arg *s = a;
  return rill_send_wait(e->h, s->p, s->n, s->sig, ns);
}

/* One message: 0, or -1 with an exception set.  The guard is held. */
static int send_one(Ep *e, PyObject *data, uint64_t sig, uint64_t ns) {
  if (PyUnicode_Check(data)) {
    PyErr_SetString(PyExc_TypeError, "send() takes a bytes-like object, not str");
    return -1;
  }
  Py_buffer b;
  if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE)) return -1;
  int64_t rc;
  if ((uint64_t)b.len > e->max_msg) {
    char m[96];
    snprintf(m, sizeof m, "%zd bytes, max_msg is %llu", b.len, (unsigned long long)e->max_msg);
    PyBuffer_Release(&b);
    raise_rc(-RILL_EMSGSIZE, m);
    return -1;
  }
  if (b.len >= BIG) {
    Py_BEGIN_ALLOW_THREADS
    rc = rill_send(e->h, b.buf, (size_t)b.len, sig);
    Py_END_ALLOW_THREADS
  } else {
    rc = rill_send(e->h, b.buf, (size_t)b.len, sig);
  }
  if (rc == -RILL_EAGAIN && ns) {
    struct send_arg s = {b.buf, (size_t)b.len, sig};
    rc = wait_sliced(e, send_wait, &s, ns);
  }
  PyBuffer_Release(&b);
  if (rc == INT64_MIN) return -1;
  if (rc < 0) {
    raise_rc(rc, NULL);
    return -1;
  }
  return 0;
}

static int parse_sig(PyObject *o, uint64_t *sig) {
  if (!o) {
    *sig = 0;
    return 0;
  }
  PyObject *i = PyNumber_Index(o); /* an int, or what has __index__ (numpy's) */
  if (!i) return -1;
  unsigned long long v = PyLong_AsUnsignedLongLong(i);
  Py_DECREF(i);
  if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
  *sig = v;
  return 0;
}

static PyObject *prod_send(Ep *e, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  static const char *const names[] = {"data", "sig", "timeout"};
  PyObject *a[3] = {NULL, NULL, NULL};
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs > 3) {
    PyErr_Format(PyExc_TypeError, "send() takes at most 3 arguments (%zd given)", nargs);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < nargs; i++) a[i] = args[i];
  for (Py_ssize_t k = 0; k < nkw; k++) {
    PyObject *kn = PyTuple_GET_ITEM(kwnames, k);
    int found = 0;
    for (int i = 0; i < 3 && !found; i++)
      if (PyUnicode_CompareWithASCIIString(kn, names[i]) == 0) {
        if (a[i]) {
          PyErr_Format(PyExc_TypeError, "send() got multiple values for argument '%s'", names[i]);
          return NULL;
        }
        a[i] = args[nargs + k];
        found = 1;
      }
    if (!found) {
      PyErr_Format(PyExc_TypeError, "send() got an unexpected keyword argument '%U'", kn);
      return NULL;
    }
  }
  if (!a[0]) {
    PyErr_SetString(PyExc_TypeError, "send() missing required argument 'data'");
    return NULL;
  }
  uint64_t sig, ns;
  if (parse_sig(a[1], &sig) || parse_timeout(a[2], &ns)) return NULL;
  if (ep_enter(e)) return NULL;
  int rc = send_one(e, a[0], sig, ns);
  ep_leave(e);
  if (rc) return NULL;
  Py_RETURN_NONE;
}

/* send_many(messages, sig=0, timeout=None): each message of the iterable
 * with sig, sig+1... (mod 2^64), taken from it one at a time. */
static PyObject *prod_send_many(Ep *e, PyObject *args, PyObject *kw) {
  static char *names[] = {"messages", "sig", "timeout", NULL};
  PyObject *msgs, *sigo = NULL, *to = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:send_many", names, &msgs, &sigo, &to))
    return NULL;
  uint64_t sig, ns;
  if (parse_sig(sigo, &sig) || parse_timeout(to, &ns)) return NULL;
  PyObject *it = PyObject_GetIter(msgs), *item;
  if (!it) return NULL;
  if (ep_enter(e)) {
    Py_DECREF(it);
    return NULL;
  }
  Py_ssize_t sent = 0;
  int rc = 0;
  while ((item = PyIter_Next(it))) {
    rc = send_one(e, item, sig + (uint64_t)sent, ns);
    Py_DECREF(item);
    if (rc) break;
    sent++;
  }
  if (!rc && PyErr_Occurred()) rc = -1; /* the iterator failed */
  ep_leave(e);
  Py_DECREF(it);
  if (rc) {
    /* the exception tells how many went before it: e.sent */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *v = PyErr_GetRaisedException(), *k = PyLong_FromSsize_t(sent);
    if (!k || PyObject_SetAttrString(v, "sent", k)) PyErr_Clear();
    Py_XDECREF(k);
    PyErr_SetRaisedException(v);
#else
    PyObject *t, *v, *tb, *k = PyLong_FromSsize_t(sent);
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (!k || !v || PyObject_SetAttrString(v, "sent", k)) PyErr_Clear();
    Py_XDECREF(k);
    PyErr_Restore(t, v, tb);
#endif
    return NULL;
  }
  return PyLong_FromSsize_t(sent);
}

/* ---- Consumer ------------------------------------------------------- */

struct recv_arg {
  const void **data;
};

static int64_t recv_wait(Ep *e, void *a, uint64_t ns) {
  struct recv_arg *r = a;
  int64_t rc = rill_recv_wait(e->h, e->buf, e->cap, &e->meta, ns);
  *r->data = e->buf;
  return rc;
}

/* The next message as bytes (META: with its Meta), waiting NS.  Returns
 * a new reference; NULL with an exception; or NULL without one when
 * NONE_IF_EMPTY and nothing came.  The guard is held. */
static PyObject *recv_one(Ep *e, uint64_t ns, int meta, int none_if_empty) {
  const void *data = NULL;
  int64_t rc;
  if (e->cap >= BIG) { /* it may copy a large message's fragments */
    Py_BEGIN_ALLOW_THREADS
    rc = rill_recv_view(e->h, e->buf, e->cap, &e->meta, &data);
    Py_END_ALLOW_THREADS
  } else {
    rc = rill_recv_view(e->h, e->buf, e->cap, &e->meta, &data);
  }
  if (rc == -RILL_EAGAIN && ns) {
    struct recv_arg r = {&data};
    rc = wait_sliced(e, recv_wait, &r, ns);
    if (rc == INT64_MIN) return NULL;
    if (rc == -RILL_ETIMEDOUT) rc = -RILL_EAGAIN;
  }
  if (rc == -RILL_EAGAIN) {
    if (none_if_empty) return NULL;
    return raise_rc(-RILL_ETIMEDOUT, "nothing to receive");
  }
  if (rc < 0) return raise_rc(rc, NULL);
  PyObject *b;
  if (rc >= BIG) { /* copied with the GIL released (the guard is held) */
    b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)rc);
    if (!b) return NULL;
    char *to = PyBytes_AS_STRING(b);
    Py_BEGIN_ALLOW_THREADS
    memcpy(to, data, (size_t)rc);
    Py_END_ALLOW_THREADS
  } else {
    b = PyBytes_FromStringAndSize(data, (Py_ssize_t)rc);
  }
  if (!b || !meta) return b;
  const rill_meta *m = &e->meta;
  PyObject *t = PyObject_CallFunction(meta_cls, "KKKKIII", (unsigned long long)m->seq,
                                      (unsigned long long)m->sig, (unsigned long long)m->sz,
                                      (unsigned long long)m->lost, (unsigned)m->ctl,
                                      (unsigned)m->tsorig, (unsigned)m->tspub);
  if (!t) {
    Py_DECREF(b);
    return NULL;
  }
  PyObject *pair = PyTuple_Pack(2, b, t);
  Py_DECREF(b);
  Py_DECREF(t);
  return pair;
}

static PyObject *cons_recv_common(Ep *e, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames, const char *what, int meta) {
  PyObject *to = NULL;
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs + nkw > 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (timeout)", what);
    return NULL;
  }
  if (nargs) to = args[0];
  if (nkw) {
    if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout")) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", what,
                   PyTuple_GET_ITEM(kwnames, 0));
      return NULL;
    }
    to = args[0];
  }
  uint64_t ns;
  if (parse_timeout(to, &ns)) return NULL;
  if (ep_enter(e)) return NULL;
  PyObject *r = recv_one(e, ns, meta, 0);
  ep_leave(e);
  return r;
}

static PyObject *cons_recv(Ep *e, PyObject *const *a, Py_ssize_t n, PyObject *kw) {
  return cons_recv_common(e, a, n, kw, "recv", 0);
}

static PyObject *cons_recv_meta(Ep *e, PyObject *const *a, Py_ssize_t n, PyObject *kw) {
  return cons_recv_common(e, a, n, kw, "recv_meta", 1);
}

static PyObject *cons_try_recv(Ep *e, PyObject *unused) {
  (void)unused;
  if (ep_enter(e)) return NULL;
  PyObject *r = recv_one(e, 0, 0, 1);
  ep_leave(e);
  if (r || PyErr_Occurred()) return r;
  Py_RETURN_NONE;
}

/* recv_many(max, timeout=None): a list of up to MAX messages, what is
 * there now, waiting up to TIMEOUT for the first only. */
static PyObject *cons_recv_many(Ep *e, PyObject *args, PyObject *kw) {
  static char *names[] = {"max", "timeout", NULL};
  Py_ssize_t max;
  PyObject *to = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O:recv_many", names, &max, &to)) return NULL;
  if (max < 1) {
    PyErr_SetString(PyExc_ValueError, "recv_many() takes max >= 1");
    return NULL;
  }
  uint64_t ns;
  if (parse_timeout(to, &ns)) return NULL;
  PyObject *out = PyList_New(0);
  if (!out) return NULL;
  if (ep_enter(e)) {
    Py_DECREF(out);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < max; i++) {
    /* the first waits; the rest take what is there.  An error after the
     * first message is kept for the next call, and the messages in hand
     * are returned: none is dropped. */
    PyObject *b = recv_one(e, i ? 0 : ns, 0, i > 0);
    if (b && PyList_Append(out, b)) Py_CLEAR(b);
    if (!b) {
      if (!PyErr_Occurred()) break;
      if (PyList_GET_SIZE(out) == 0) {
        ep_leave(e);
        Py_DECREF(out);
        return NULL;
      }
      ep_keep_error(e);
      break;
    }
    Py_DECREF(b);
  }
  ep_leave(e);
  return out;
}

/* ---- the types ------------------------------------------------------ */

static PyMemberDef ep_members[] = {
    {"_view_out", T_INT, offsetof(Ep, view_out), 0,
     "set while a memoryview is out; the next call runs _release_view() first"},
    {NULL, 0, 0, 0, NULL},
};

#define EP_COMMON_METHODS                                                                      \
  {"_attach", (PyCFunction)ep_attach, METH_VARARGS, "_attach(addr, guard, max_msg)"},          \
      {"_detach", (PyCFunction)ep_detach, METH_NOARGS, "_detach(): the handle is being closed"}

static PyMethodDef prod_methods[] = {
    EP_COMMON_METHODS,
    {"send", (PyCFunction)(void (*)(void))prod_send, METH_FASTCALL | METH_KEYWORDS,
     "send($self, data, sig=0, timeout=None)\n--\n\n"
     "Publishes DATA (any contiguous bytes-like object, up to ``max_msg``\n"
     "bytes) as one message with SIG, waiting up to TIMEOUT seconds for\n"
     "credit (None: no limit; 0: raise :class:`Again` at once if there is\n"
     "none; a timeout raises :class:`TimedOut`)."},
    {"send_many", (PyCFunction)(void (*)(void))prod_send_many, METH_VARARGS | METH_KEYWORDS,
     "send_many($self, messages, sig=0, timeout=None)\n--\n\n"
     "send() of each bytes-like object of the iterable MESSAGES, taken\n"
     "from it one at a time, with sigs SIG, SIG + 1, ... (modulo 2**64), in\n"
     "one call: TIMEOUT applies to each message's wait for credit.  Returns\n"
     "how many were sent (all of them).  An error while sending (the\n"
     "iterator's own too) raises with the messages before it sent, and the\n"
     "exception's ``sent`` says how many they were."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef cons_methods[] = {
    EP_COMMON_METHODS,
    {"recv", (PyCFunction)(void (*)(void))cons_recv, METH_FASTCALL | METH_KEYWORDS,
     "recv($self, timeout=None)\n--\n\n"
     "The next whole message, as bytes, waiting up to TIMEOUT seconds\n"
     "(None: no limit; 0: look once).  Raises :class:`TimedOut`,\n"
     ":class:`Closed` (the producer left, all was read), :class:`Dead`\n"
     "(it died, all it published was read); as in C, only a wait asks\n"
     "after the producer: with TIMEOUT 0 an empty channel is TimedOut.\n"
     "A lossy consumer skips what it lost (recv_meta() tells how many)."},
    {"recv_meta", (PyCFunction)(void (*)(void))cons_recv_meta, METH_FASTCALL | METH_KEYWORDS,
     "recv_meta($self, timeout=None)\n--\n\n"
     "recv() with the message's :class:`Meta` (seq, sig, size, lost, ctl,\n"
     "tsorig, tspub), as a pair (bytes, Meta)."},
    {"try_recv", (PyCFunction)cons_try_recv, METH_NOARGS,
     "try_recv($self)\n--\n\nThe next whole message if there is one now, else None (it does\n"
     "not ask after the producer: producer_state() or a wait does)."},
    {"recv_many", (PyCFunction)(void (*)(void))cons_recv_many, METH_VARARGS | METH_KEYWORDS,
     "recv_many($self, max, timeout=None)\n--\n\n"
     "Up to MAX whole messages as a list of bytes: waits up to TIMEOUT for\n"
     "the first (raising as recv() does), then takes what is there without\n"
     "waiting.  An error after the first message (Closed, Dead...) is\n"
     "raised by the next recv*() call: no message is dropped."},
    {NULL, NULL, 0, NULL},
};

static PyObject *ep_new(PyTypeObject *t, PyObject *args, PyObject *kw, int consumer) {
  (void)args;
  (void)kw;
  Ep *e = (Ep *)t->tp_alloc(t, 0);
  if (e) e->is_consumer = consumer;
  return (PyObject *)e;
}

static PyObject *prod_new(PyTypeObject *t, PyObject *a, PyObject *k) { return ep_new(t, a, k, 0); }
static PyObject *cons_new(PyTypeObject *t, PyObject *a, PyObject *k) { return ep_new(t, a, k, 1); }

#define EP_TYPE(NAME, DOC, NEW, METHODS)                                                       \
  {                                                                                            \
    PyVarObject_HEAD_INIT(NULL, 0)                                                             \
    .tp_name = NAME, .tp_doc = DOC, .tp_basicsize = sizeof(Ep),                                \
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,                 \
    .tp_new = NEW, .tp_dealloc = (destructor)ep_dealloc,                                       \
    .tp_traverse = (traverseproc)ep_traverse, .tp_clear = (inquiry)ep_clear,                   \
    .tp_methods = METHODS, .tp_members = ep_members,                                           \
  }

static PyTypeObject ProducerBaseType =
    EP_TYPE("rill._fast.ProducerBase", "The C half of rill.Producer.", prod_new, prod_methods);
static PyTypeObject ConsumerBaseType =
    EP_TYPE("rill._fast.ConsumerBase", "The C half of rill.Consumer.", cons_new, cons_methods);

/* _setup(error, Meta): what the calls raise and return. */
static PyInterpreterState *setup_interp;

static PyObject *fast_setup(PyObject *m, PyObject *args) {
  (void)m;
  PyObject *err, *meta;
  if (!PyArg_ParseTuple(args, "OO", &err, &meta)) return NULL;
  PyInterpreterState *in = PyThreadState_Get()->interp;
  if (setup_interp && setup_interp != in) {
    PyErr_SetString(PyExc_ImportError,
                    "rill is imported in another interpreter of this process already "
                    "(one interpreter per process)");
    return NULL;
  }
  setup_interp = in;
  Py_INCREF(err);
  Py_INCREF(meta);
  Py_XSETREF(error_fn, err);
  Py_XSETREF(meta_cls, meta);
  Py_RETURN_NONE;
}

static PyMethodDef fast_functions[] = {
    {"_setup", fast_setup, METH_VARARGS, "_setup(error, Meta)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT, "rill._fast",
    "The per-message calls of rill.Producer and rill.Consumer, in C.", -1, fast_functions,
    NULL, NULL, NULL, NULL,
};

/* Exported whatever -fvisibility says (Python before 3.9 does not mark
 * PyMODINIT_FUNC visible, and rill_build.py hides everything else). */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__fast(void) {
  PyTypeObject *types[] = {&HandleType, &SpanType, &GuardType, &ProducerBaseType,
                           &ConsumerBaseType};
  const char *names[] = {"Handle", "Span", "Guard", "ProducerBase", "ConsumerBase"};
  for (int i = 0; i < 5; i++)
    if (PyType_Ready(types[i])) return NULL;
  PyObject *m = PyModule_Create(&fast_module);
  if (!m) return NULL;
  if (PyModule_AddIntConstant(m, "REGION", H_REGION) ||
      PyModule_AddIntConstant(m, "PRODUCER", H_PRODUCER) ||
      PyModule_AddIntConstant(m, "CONSUMER", H_CONSUMER) ||
      PyModule_AddIntConstant(m, "RPC_CLIENT", H_RPC_CLIENT)) {
    Py_DECREF(m);
    return NULL;
  }
  for (int i = 0; i < 5; i++) {
    Py_INCREF(types[i]);
    if (PyModule_AddObject(m, names[i], (PyObject *)types[i])) {
      Py_DECREF(types[i]);
      Py_DECREF(m);
      return NULL;
    }
  }
  return m;
}
