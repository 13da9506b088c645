# threadlab's Python tracer: reports every threading, queue, sleep, futures, asyncio and
# multiprocessing operation of a script to threadlab, while python3 runs the script itself,
# unmodified (same __main__, same tracebacks, same exit code).
#
# It is loaded as `sitecustomize` from a private folder threadlab puts first on PYTHONPATH
# for `python3 SCRIPT ARGS...`; it takes that folder off the path again (and loads any other
# sitecustomize the machine has), so the script and its own subprocesses see their usual
# environment. THREADLAB_TRACE_FD and THREADLAB_TRACE_GATE say where records go and where the
# gate is.
#
# Records go to the fd (a pipe only threadlab reads), never to the script's stdout or stderr.
# One record is one line of tab-separated fields:
#   t_ns pid who name op kind oid arg file line
# and, for an object made ("new"), an eleventh: the column of the call that made it (0: unknown).
# who is the thread's ident (or "task:<id>" for an asyncio task), op a plain English word.
# Records are written under one lock, and a release is written before the real release while
# an acquire is written after the real acquire, so the order of the lines is an order in which
# the operations really happened.
#
# The gate: a 64-byte file threadlab writes too. Byte 0 is 1 while paused; bytes 8..16 count
# the steps threadlab has granted, bytes 16..24 the thread ident a step is for (0: any). A
# running program reads one byte per operation; only a paused one waits, and polls.

import os
import sys

_FD = int(os.environ.pop("THREADLAB_TRACE_FD"))
os.set_inheritable(_FD, False)
_GATE_PATH = os.environ.pop("THREADLAB_TRACE_GATE")


def _restore_path():
    here = os.path.dirname(os.path.abspath(__file__))
    before = os.environ.pop("THREADLAB_PYTHONPATH", None)
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    # The machine's own sitecustomize, if it has one, still runs.
    me = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        if me is not None:
            sys.modules["sitecustomize"] = me


_restore_path()

import _thread
import mmap
import time as _time_mod

_real_sleep = _time_mod.sleep
_mono = _time_mod.monotonic_ns
# Taken out of the environment like the fd and the gate: the program sees python3's own.
_T0 = int(os.environ.pop("THREADLAB_T0", "0")) or _mono()
_wlock = _thread.allocate_lock()
_get_ident = _thread.get_ident
_getframe = sys._getframe

with open(_GATE_PATH, "r+b") as _gf:
    _gate = mmap.mmap(_gf.fileno(), 64)
_step_lock = _thread.allocate_lock()
_taken = [0]


def _clean(s):
    return str(s).replace("\t", " ").replace("\n", " ")


_HERE = os.path.abspath(__file__)
_STDLIB = set()
_internal_cache = {}


def _is_internal(filename):
    r = _internal_cache.get(filename)
    if r is None:
        if len(_internal_cache) > 10000:
            _internal_cache.clear()
        r = (
            filename == _HERE
            or filename.startswith("<frozen")
            or (
                any(filename.startswith(p) for p in _STDLIB)
                and "site-packages" not in filename
                and "dist-packages" not in filename
            )
        )
        _internal_cache[filename] = r
    return r


def _where(depth=2):
    """The first frame outside the standard library and this file: the user's line."""
    f = _getframe(depth)
    while f is not None and _is_internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return "", 0
    return f.f_code.co_filename, f.f_lineno


def _from_user(depth=2):
    """Whether the call depth frames up comes from the user's code, not from the library
    itself (a Queue's own Condition, a Thread's own Event): only the user's operations are
    recorded and gated."""
    return not _is_internal(_getframe(depth).f_code.co_filename)


# The library functions that call what the program handed them at once (a thread's or a
# pool's target): a call they make is the program's.
_TRAMPOLINES = frozenset(("run",))


def _for_user(depth=2):
    """_from_user, or a call the library makes for the program at once:
    `Thread(target=time.sleep, args=(1,))`, `pool.submit(time.sleep, 1)`."""
    code = _getframe(depth).f_code
    return not _is_internal(code.co_filename) or code.co_name in _TRAMPOLINES


_threads = {}


def _who():
    ident = _get_ident()
    name = _threads.get(ident)
    if name is None:
        import threading

        name = threading.current_thread().name
    return ident, name


_clean_cache = {}
_pid = [os.getpid()]
_write = os.write


def _cleaned(s):
    """_clean for the few strings that recur (names, file paths), remembered."""
    c = _clean_cache.get(s)
    if c is None:
        c = _clean(s)
        if len(_clean_cache) < 10000:
            _clean_cache[s] = c
    return c


def _emit(op, kind="", oid=0, arg="", where=None, who=None, tail=""):
    if where is None:
        where = _where(3)
    ident, name = who if who is not None else _who()
    line = "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d%s\n" % (
        ident,
        _cleaned(name),
        op,
        kind,
        oid,
        _clean(arg) if arg else "",
        _cleaned(where[0]),
        where[1],
        tail,
    )
    # The time is read under the lock, so the lines are in time order.
    with _wlock:
        try:
            _write(_FD, ("%d\t%d\t" % (_mono() - _T0, _pid[0]) + line).encode("utf-8", "replace"))
        except OSError:
            pass


def _gate_pass(who=None):
    """Holds the calling thread while threadlab has the run paused, until a step is granted
    to it (or to any thread) or the run goes on."""
    if not _gate[0]:
        return
    held = False
    ident = _get_ident() if who is None else who[0]
    while _gate[0]:
        target = int.from_bytes(_gate[16:24], "little")
        with _step_lock:
            granted = int.from_bytes(_gate[8:16], "little")
            if granted > _taken[0] and (target == 0 or str(target) == str(ident)):
                _taken[0] = granted
                break
        if not held:
            held = True
            _emit("hold", where=_where(3), who=who)
        _real_sleep(0.002)


def _made_at(depth):
    """The user's line that made an object, and (Python 3.11+) the 1-based column where the
    call that made it starts, so `a, b = Lock(), Lock()` can name each by its own target."""
    f = _getframe(depth)
    while f is not None and _is_internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return "", 0, 0
    col = 0
    positions = getattr(f.f_code, "co_positions", None)
    if positions is not None and f.f_lasti >= 0:
        try:
            for i, p in enumerate(positions()):
                if i == f.f_lasti // 2:
                    if p[0] == f.f_lineno and p[2] is not None:
                        col = p[2] + 1
                    break
        except Exception:
            col = 0
    return f.f_code.co_filename, f.f_lineno, col


def _new(kind, obj, arg=""):
    where = _made_at(3)
    # A made object's record has an eleventh field: the column.
    _emit("new", kind, id(obj), arg, where[:2], tail="\t%d" % where[2])


# Waits the program makes through the library (a result `Executor.map` hands back, the next of
# `as_completed`, a `multiprocessing.Pool`'s answer, an idle pool worker's next task): the
# library waits on primitives of its own, which are not traced. While such a call runs, the
# thread's entry here names what it waits for, and the library's own condition-variable wait
# (every one of these ends in one) is recorded as an "await" of that: the lane is drawn as
# waiting, never as running. Its end is out of the tracer's sight, so threadlab never reads a
# deadlock into it. What it waits for is named as Python spells the call (`map(square)`,
# `work_queue.get()`), which reads the same on a screen in any language.
_awaiting = {}
_await_ids = {}


def _await_id(what):
    oid = _await_ids.get(what)
    if oid is None:
        oid = len(_await_ids) + 1
        if oid < 10000:
            _await_ids[what] = oid
    return oid


def _awaited_call(what, where, real, *a, **k):
    """real(*a, **k), any wait it makes inside the library drawn as a wait for `what`."""
    return _awaited_as((what, where, "other"), real, *a, **k)


def _awaited_as(w, real, *a, **k):
    """_awaited_call for the wait `w`: (what, where, kind). The kind says what can end it:
    "other", code the tracer cannot see; "inside", only this process's own threads (a wait on
    a primitive of the library's, without a timeout); "outside", only the world outside the
    program (a socket, a pipe, a child process, the keyboard)."""
    ident = _get_ident()
    before = _awaiting.get(ident)
    _awaiting[ident] = w
    try:
        return real(*a, **k)
    finally:
        if before is None:
            _awaiting.pop(ident, None)
        else:
            _awaiting[ident] = before


def _library_caller():
    """The library function a wait is made in, named for its lane: `_feed()`."""
    f = _getframe(2)
    named = None
    while f is not None and f.f_code.co_filename in (_HERE, _th.__file__):
        # threading's outermost call, not the wait inside it: `Thread.start()`.
        if f.f_code.co_filename == _th.__file__:
            named = f.f_code
        f = f.f_back
    code = named or (f.f_code if f is not None else None)
    if code is None:
        return "result()"
    return "%s()" % getattr(code, "co_qualname", code.co_name)


def _await_begin(ident):
    """The record of a library wait of the thread `ident`, if the program's call it is in
    says what it waits for; the (what, where) to end it with."""
    w = _awaiting.get(ident)
    if w is None:
        return None
    # Said once: waits nested inside this one are part of it.
    _awaiting[ident] = None
    _emit("await", w[2], _await_oid(w), w[0], w[1])
    return w


def _await_oid(w):
    """The object a wait is on: its own (a fourth field, the queue an idle worker waits on),
    or one per name."""
    return w[3] if len(w) > 3 else _await_id(w[0])


def _await_end(ident, w):
    _emit("awaited", w[2], _await_oid(w), w[0], w[1])
    _awaiting[ident] = w


# ---------------------------------------------------------------------------------------
# threading

import threading as _th

_STDLIB.update(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep
    for m in (os, _th)
    if getattr(m, "__file__", None)
)

_RealLock = _thread.allocate_lock
_RealRLock = _th.RLock
_RealCondition = _th.Condition
_RealSemaphore = _th.Semaphore
_RealBoundedSemaphore = _th.BoundedSemaphore
_RealEvent = _th.Event
_RealBarrier = _th.Barrier
_RealThread = _th.Thread


def _acquire(kind, obj, real, blocking=True, timeout=-1):
    """A traced acquire: try at once; when that fails, say `block`, then let the real
    primitive do the waiting and say `acquire` (or `timeout`) when it returns."""
    if not obj._traced:
        return real(blocking, timeout)
    where = _where(3)
    if _gate[0]:
        _gate_pass()
    if real(False):
        _emit("acquire", kind, id(obj), "", where)
        return True
    if not blocking:
        _emit("busy", kind, id(obj), "", where)
        return False
    _emit("block", kind, id(obj), "~" if timeout is not None and timeout >= 0 else "", where)
    ok = False
    try:
        ok = real(True, timeout)
    finally:
        # An exception (a timeout too large, an interrupt) ends the wait without the lock.
        _emit("acquire" if ok else "timeout", kind, id(obj), "", where)
    return ok


class Lock:
    """threading.Lock, traced; the real lock does all the locking."""

    _kind = "lock"
    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self):
        self._real = _RealLock()
        self._traced = _from_user(2)
        if self._traced:
            _new(self._kind, self)

    def acquire(self, blocking=True, timeout=-1):
        return _acquire(self._kind, self, self._real.acquire, blocking, timeout)

    def release(self):
        if self._traced:
            if _gate[0]:
                _gate_pass()
            _emit("release", self._kind, id(self), "", _where(2))
        self._real.release()

    def __enter__(self):
        return _acquire(self._kind, self, self._real.acquire)

    def __exit__(self, *exc):
        if self._traced:
            if _gate[0]:
                _gate_pass()
            _emit("release", self._kind, id(self), "", _where(2))
        self._real.release()

    def locked(self):
        return self._real.locked()

    def _at_fork_reinit(self):
        self._real._at_fork_reinit()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __repr__(self):
        return repr(self._real)


class RLock(Lock):
    _kind = "rlock"

    def __init__(self, *a, **k):
        self._real = _RealRLock(*a, **k)
        self._traced = _from_user(2)
        if self._traced:
            _new(self._kind, self)


class Condition(_RealCondition):
    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self, lock=None):
        super().__init__(lock if lock is not None else _RealRLock())
        self._traced = _from_user(2)
        if self._traced:
            _new("condition", self)
        real_acquire = self.acquire
        real_release = self.release
        me = self

        def acquire(blocking=True, timeout=-1):
            return _acquire("condition", me, real_acquire, blocking, timeout)

        def release():
            if me._traced:
                _gate_pass()
                _emit("release", "condition", id(me), "", _where(2))
            real_release()

        self.acquire = acquire
        self.release = release
        self._t_acquire = real_acquire
        self._t_release = real_release

    def __enter__(self):
        return _acquire("condition", self, self._t_acquire)

    def __exit__(self, *exc):
        if self._traced:
            _gate_pass()
            _emit("release", "condition", id(self), "", _where(2))
        self._t_release()

    def wait(self, timeout=None):
        if not self._traced:
            # Every wait of the library's own threads and of its calls for the program ends
            # here: said, so no lane is drawn running while it waits (one inside a traced wait
            # is that wait, and threadlab reads it so).
            ident = _get_ident()
            if timeout is not None and timeout <= 0:
                # A poll (a semaphore tried with timeout=0): no wait.
                return super().wait(timeout)
            if ident not in _awaiting:
                what = _library_caller()
                if what == "Thread.start()":
                    # The hand-shake with a thread being started: its lane appearing says it.
                    return super().wait(timeout)
                # Without a timeout, only a thread of this process can notify it.
                _awaiting[ident] = (what, ("", 0), "other" if timeout is not None else "inside")
                try:
                    return self.wait(timeout)
                finally:
                    _awaiting.pop(ident, None)
            w = _await_begin(ident) if _awaiting[ident] else None
            if w is None:
                return super().wait(timeout)
            try:
                return super().wait(timeout)
            finally:
                _await_end(ident, w)
        return self._traced_wait(timeout, _where(2))

    def _traced_wait(self, timeout, where):
        _gate_pass()
        _emit("wait", "condition", id(self), "~" if timeout is not None else "", where)
        ok = False
        try:
            ok = super().wait(timeout)
        finally:
            # RuntimeError (waiting without the lock) ends the wait at once.
            _emit("woken" if ok else "timeout_wait", "condition", id(self), "", where)
        return ok

    def wait_for(self, predicate, timeout=None):
        # threading's own wait_for would call wait() from the library, unseen: the same loop,
        # with each real wait traced at the caller's line.
        if not self._traced:
            return super().wait_for(predicate, timeout)
        where = _where(2)
        endtime = None
        waittime = timeout
        result = predicate()
        while not result:
            if waittime is not None:
                if endtime is None:
                    endtime = _time_mod.monotonic() + waittime
                else:
                    waittime = endtime - _time_mod.monotonic()
                    if waittime <= 0:
                        break
            self._traced_wait(waittime, where)
            result = predicate()
        return result

    def notify(self, n=1):
        if self._traced:
            _gate_pass()
            _emit("notify", "condition", id(self), str(n), _where(2))
        return super().notify(n)

    def notify_all(self):
        if self._traced:
            _gate_pass()
            _emit("notify", "condition", id(self), "all", _where(2))
        # threading's notify_all calls notify: one record is enough.
        return _RealCondition.notify(self, len(self._waiters))

    notifyAll = notify_all


def _semaphore_class(base, kind):
    class S(base):
        # Only primitives the program made are traced, wherever they are used.
        _traced = False

        def __init__(self, value=1):
            # threading's BoundedSemaphore calls Semaphore.__init__ by name: this class.
            base.__init__(self, value)
            self._traced = _from_user(2)
            if self._traced:
                _new(kind, self, str(value))

        def _t_real(self, blocking, timeout=-1):
            return base.acquire(self, blocking, None if timeout == -1 else timeout)

        def acquire(self, blocking=True, timeout=None):
            return _acquire(kind, self, self._t_real, blocking, -1 if timeout is None else timeout)

        def release(self, n=1):
            # A BoundedSemaphore released too often raises: no permit was given back.
            over = getattr(self, "_initial_value", None)
            if self._traced and not (over is not None and self._value + n > over):
                _gate_pass()
                _emit("release", kind, id(self), str(n), _where(2))
            return base.release(self, n) if n != 1 else base.release(self)

        def __enter__(self):
            return _acquire(kind, self, self._t_real)

        def __exit__(self, *exc):
            if self._traced:
                _gate_pass()
                _emit("release", kind, id(self), "1", _where(2))
            base.release(self)

    S.__name__ = base.__name__
    S.__qualname__ = base.__qualname__
    return S


Semaphore = _semaphore_class(_RealSemaphore, "semaphore")
BoundedSemaphore = _semaphore_class(_RealBoundedSemaphore, "semaphore")


class _MadeEvent:
    """An event of threading's or asyncio's, traced if the program made it."""

    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self):
        super().__init__()
        self._traced = _from_user(2)
        if self._traced:
            _new("event", self)


class Event(_MadeEvent, _RealEvent):
    def set(self):
        if self._traced:
            _gate_pass()
            _emit("set", "event", id(self), "", _where(2))
        return super().set()

    def clear(self):
        if self._traced:
            _emit("clear", "event", id(self), "", _where(2))
        return super().clear()

    def wait(self, timeout=None):
        if not self._traced:
            return super().wait(timeout)
        where = _where(2)
        _gate_pass()
        if self.is_set():
            _emit("pass", "event", id(self), "", where)
            return True
        _emit("block", "event", id(self), "~" if timeout is not None else "", where)
        ok = False
        try:
            ok = super().wait(timeout)
        finally:
            _emit("pass" if ok else "timeout", "event", id(self), "", where)
        return ok


class Barrier(_RealBarrier):
    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self, parties, action=None, timeout=None):
        super().__init__(parties, action, timeout)
        self._traced = _from_user(2)
        if self._traced:
            _new("barrier", self, str(parties))

    def wait(self, timeout=None):
        if not self._traced:
            return super().wait(timeout)
        where = _where(2)
        _gate_pass()
        # "~": the wait can give up (its own timeout or the barrier's), so it is no deadlock;
        # "wait": not the last to arrive, so it waits for the others (read without the
        # barrier's lock: a guess the next record confirms).
        timed = timeout is not None or self._timeout is not None
        waits = self.n_waiting + 1 < self.parties
        _emit("arrive", "barrier", id(self), ("~" if timed else "") + ("wait" if waits else ""), where)
        try:
            r = super().wait(timeout)
        except BaseException:
            # Broken, or the barrier's action raised in the thread that ran it.
            _emit("broken", "barrier", id(self), "", where)
            raise
        _emit("pass", "barrier", id(self), str(r), where)
        return r


_real_bootstrap_inner = _RealThread._bootstrap_inner
_real_join = _RealThread.join
_real_start = _RealThread.start


def _bootstrap_inner(self):
    _threads[_get_ident()] = self.name
    _emit("start", "thread", id(self), self.name, ("", 0))
    try:
        _real_bootstrap_inner(self)
    finally:
        _emit("done", "thread", id(self), self.name, ("", 0))
        _threads.pop(_get_ident(), None)


def _thread_start(self):
    if _from_user(2):
        _gate_pass()
        _emit("spawn", "thread", id(self), self.name, _where(2))
    return _real_start(self)


def _thread_join(self, timeout=None):
    if not _from_user(2):
        return _real_join(self, timeout)
    _join_traced(self, timeout, _where(2))


def _join_traced(self, timeout, where):
    _gate_pass()
    if self is _th.current_thread():
        # Python refuses at once (RuntimeError): no wait to draw, and no instant in which the
        # thread would look as if it waited for itself.
        return _real_join(self, timeout)
    if not self.is_alive():
        _real_join(self, timeout)
        _emit("joined", "thread", id(self), self.name, where)
        return
    _emit("join", "thread", id(self), ("~" if timeout is not None else "") + self.name, where)
    try:
        _real_join(self, timeout)
    finally:
        # RuntimeError (a thread joining itself) ends the wait at once.
        _emit("joined" if not self.is_alive() else "timeout", "thread", id(self), self.name, where)


_real_excepthook = _th.excepthook


def _excepthook(args):
    _emit("fail", "thread", id(args.thread) if args.thread else 0,
          "%s: %s" % (args.exc_type.__name__, args.exc_value), ("", 0))
    _untrace_exception(args.exc_value)
    tb = _untraced(args.exc_traceback)
    if tb is not args.exc_traceback:
        args = _th.ExceptHookArgs([args.exc_type, args.exc_value, tb, args.thread])
    return _real_excepthook(args)


def _timer_run(self):
    # A Timer waits on an Event threading made for it, which is not traced: said here as the
    # sleep it is (cut short by cancel), so its lane sleeps instead of seeming to compute.
    _emit("sleep", "", 0, repr(self.interval), ("", 0))
    self.finished.wait(self.interval)
    _emit("woke", "", 0, "", ("", 0))
    if not self.finished.is_set():
        self.function(*self.args, **self.kwargs)
    self.finished.set()


# ---------------------------------------------------------------------------------------
# tracebacks: an exception that passes through a wrapper here (queue.Empty from get, a
# future's exception from result, ValueError from an over-released BoundedSemaphore) is
# printed without this file's frames, as python3 alone prints it.


def _untraced(tb):
    """The traceback `tb` with this file's entries unlinked (in place); its new head."""
    head = last = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != _HERE:
            if last is None:
                head = tb
            else:
                last.tb_next = tb
            last = tb
        tb = tb.tb_next
    if last is not None:
        last.tb_next = None
    return head


def _untrace_exception(exc, seen=None):
    """_untraced for an exception, its cause, its context and a group's members."""
    seen = set() if seen is None else seen
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        try:
            exc.__traceback__ = _untraced(exc.__traceback__)
        except Exception:
            pass
        for inner in getattr(exc, "exceptions", None) or ():
            _untrace_exception(inner, seen)
        _untrace_exception(exc.__cause__, seen)
        exc = exc.__context__


_real_sys_excepthook = sys.excepthook


def _sys_excepthook(exc_type, exc, tb):
    _untrace_exception(exc)
    return _real_sys_excepthook(exc_type, exc, _untraced(tb))


sys.excepthook = _sys_excepthook

import traceback as _traceback


def _skipping_here(walk):
    def walk_tb(tb):
        for entry in walk(tb):
            if entry[0].f_code.co_filename != _HERE:
                yield entry

    return walk_tb


# traceback.print_exc, format_exception, logging.exception and (3.13+) the default hook all
# walk a traceback through these.
_traceback.walk_tb = _skipping_here(_traceback.walk_tb)
if hasattr(_traceback, "_walk_tb_with_full_positions"):
    _traceback._walk_tb_with_full_positions = _skipping_here(
        _traceback._walk_tb_with_full_positions
    )

_RealThread._bootstrap_inner = _bootstrap_inner
_th.Timer.run = _timer_run
_RealThread.start = _thread_start
_RealThread.join = _thread_join
_th.excepthook = _excepthook
_th.Lock = Lock
_th.RLock = RLock
_th.Condition = Condition
_th.Semaphore = Semaphore
_th.BoundedSemaphore = BoundedSemaphore
_th.Event = Event
_th.Barrier = Barrier

# ---------------------------------------------------------------------------------------
# time.sleep


def _sleep(secs):
    if _for_user(2):
        where = _where(2)
        _gate_pass()
        _emit("sleep", "", 0, repr(secs), where)
        _real_sleep(secs)
        _emit("woke", "", 0, "", where)
    else:
        _real_sleep(secs)


_sleep.__name__ = _sleep.__qualname__ = "sleep"
_time_mod.sleep = _sleep

# ---------------------------------------------------------------------------------------
# queue

import queue as _queue


def _queue_class(base, kind):
    class Q(base):
        # Only primitives the program made are traced, wherever they are used.
        _traced = False

        def __init__(self, maxsize=0):
            super().__init__(maxsize)
            self._traced = _from_user(2)
            if self._traced:
                _new(kind, self, str(maxsize))

        def put(self, item, block=True, timeout=None):
            if not self._traced:
                return super().put(item, block, timeout)
            where = _where(2)
            _gate_pass()
            if block and self.maxsize > 0 and self.full():
                _emit("block", kind, id(self), ("~" if timeout is not None else "") + "put", where)
            try:
                super().put(item, block, timeout)
            except BaseException:
                # Full, or (3.13) ShutDown, or an interrupt: the wait ended without a put.
                _emit("timeout", kind, id(self), "put", where)
                raise

        def get(self, block=True, timeout=None):
            if not self._traced:
                return super().get(block, timeout)
            where = _where(2)
            _gate_pass()
            if block and self.empty():
                _emit("block", kind, id(self), ("~" if timeout is not None else "") + "get", where)
            try:
                return super().get(block, timeout)
            except BaseException:
                # Empty, or (3.13) ShutDown, or an interrupt: the wait ended without an item.
                _emit("timeout", kind, id(self), "get", where)
                raise

        # The queue's own put and get call these holding its mutex: records written here are
        # in the order the items really went in and out.
        def _put(self, item):
            base._put(self, item)
            _emit("put", kind, id(self), str(self._qsize()), _where(2))

        def _get(self):
            item = base._get(self)
            _emit("take", kind, id(self), str(self._qsize()), _where(2))
            return item

        def task_done(self):
            if self._traced:
                _emit("task_done", kind, id(self), "", _where(2))
            return super().task_done()

        def join(self):
            if not self._traced:
                return super().join()
            where = _where(2)
            _gate_pass()
            _emit("block", kind, id(self), "join", where)
            try:
                super().join()
            finally:
                _emit("pass", kind, id(self), "join", where)

    Q.__name__ = base.__name__
    Q.__qualname__ = base.__qualname__
    return Q


# What a pool's idle worker waits for.
_TASK = "work_queue.get()"


class SimpleQueue(_queue.SimpleQueue):
    """queue.SimpleQueue, traced as an unbounded queue when the program made it; one the
    library made (a thread pool's work queue) still draws a wait for its next item as one."""

    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self):
        super().__init__()
        self._traced = _from_user(2)
        if self._traced:
            _new("queue", self, "0")
        else:
            # A new queue: nothing is left on it of one gone that had its id.
            _emit("made", "inside", id(self), _TASK, ("", 0))

    def put(self, item, block=True, timeout=None):
        # Said before the item goes in (a put never waits nor fails here), so no take of it
        # can be recorded ahead of its put.
        if self._traced:
            _gate_pass()
            _emit("put", "queue", id(self), str(self.qsize() + 1), _where(2))
        else:
            # A task (or the word to stop) for a pool's worker: an idle one will wake for it,
            # so no idle worker waits for good until it has been taken.
            _emit("put", "inside", id(self), _TASK, ("", 0))
        super().put(item, block, timeout)

    def put_nowait(self, item):
        return self.put(item, False)

    def get(self, block=True, timeout=None):
        if not (block and self.empty()):
            item = super().get(block, timeout)
            if self._traced:
                _emit("take", "queue", id(self), str(self.qsize()), _where(2))
            else:
                _emit("take", "inside", id(self), _TASK, ("", 0))
            return item
        if not self._traced:
            # A pool's idle worker, waiting for a task: only a thread of this process gives
            # it one (a submit, a shutdown).
            w = (_TASK, ("", 0), "other" if timeout is not None else "inside", id(self))
            return _awaited_as(w, _waiting, super().get, True, timeout)
        where = _where(2)
        _gate_pass()
        _emit("block", "queue", id(self), ("~" if timeout is not None else "") + "get", where)
        try:
            item = super().get(block, timeout)
        except BaseException:
            _emit("timeout", "queue", id(self), "get", where)
            raise
        _emit("take", "queue", id(self), str(self.qsize()), where)
        return item

    def get_nowait(self):
        return self.get(False)


_queue.SimpleQueue = SimpleQueue
_queue.Queue = _queue_class(_queue.Queue, "queue")
_queue.LifoQueue = _queue_class(_queue.LifoQueue, "queue")
_queue.PriorityQueue = _queue_class(_queue.PriorityQueue, "queue")

# ---------------------------------------------------------------------------------------
# concurrent.futures

import concurrent.futures as _cf
from concurrent.futures import _base as _cfb

_real_as_completed = _cfb.as_completed


def _future_wait(real):
    """A wait for a future's outcome, by result() or exception(): one wait, on that future."""

    def wait(self, timeout=None):
        if not _from_user(2):
            return real(self, timeout)
        where = _where(2)
        _gate_pass()
        if not self.done():
            _emit("block", "future", id(self), "~" if timeout is not None else "", where)
        try:
            return real(self, timeout)
        finally:
            _emit("pass", "future", id(self), "", where)

    return wait


_result = _future_wait(_cfb.Future.result)
_exception = _future_wait(_cfb.Future.exception)


_real_wait = _cfb.wait


def _wait(fs, timeout=None, return_when=_cfb.ALL_COMPLETED):
    if not _from_user(2):
        return _real_wait(fs, timeout, return_when)
    where = _where(2)
    _gate_pass()
    pending = [f for f in fs if not f.done()]
    # Drawn as a wait for the last future still pending; marked as one that can end without
    # it ("~"), since any or all of them may be what ends it.
    if pending:
        _emit("block", "future", id(pending[-1]), "~", where)
    try:
        return _real_wait(fs, timeout, return_when)
    finally:
        if pending:
            _emit("pass", "future", id(pending[-1]), "", where)


def _as_completed(fs, timeout=None):
    where = _where(2)
    it = _real_as_completed(fs, timeout)
    while True:
        try:
            f = _awaited_call("as_completed()", where, next, it)
        except StopIteration:
            return
        _emit("pass", "future", id(f), "", where)
        yield f


def _awaited_results(what, where, it):
    """The iterator `it` of results, each wait for one drawn as a wait for `what`."""
    while True:
        try:
            r = _awaited_call(what, where, next, it)
        except StopIteration:
            return
        yield r


def _patch_map(cls):
    real = cls.map

    def map(self, fn, *iterables, **kwargs):
        # Executor.map submits each call and waits on each result from the library's own
        # frames: the caller's waits for results are drawn as waits for `map()`'s results.
        if not _from_user(2):
            return real(self, fn, *iterables, **kwargs)
        where = _where(2)
        what = "map(%s)" % getattr(fn, "__name__", "")
        return _awaited_results(what, where, real(self, fn, *iterables, **kwargs))

    cls.map = map


def _patch_submit(cls):
    real = cls.submit

    def submit(self, fn, /, *args, **kwargs):
        f = real(self, fn, *args, **kwargs)
        if _from_user(2):
            _emit("new", "future", id(f), getattr(fn, "__name__", "task"), _where(2))
        return f

    cls.submit = submit



_real_set_result = _cfb.Future.set_result
_real_set_exception = _cfb.Future.set_exception


def _set_result(self, result):
    # Whoever finishes a future (a pool's worker) sets it for the threads waiting on it.
    _emit("set", "future", id(self), "", _where(2))
    return _real_set_result(self, result)


def _set_exception(self, exception):
    _emit("set", "future", id(self), "", _where(2))
    return _real_set_exception(self, exception)


_cfb.Future.set_result = _set_result
_cfb.Future.set_exception = _set_exception
_cfb.Future.result = _result
_cfb.Future.exception = _exception
_cf.as_completed = _as_completed
_cf.wait = _wait
_cfb.wait = _wait
_cfb.as_completed = _as_completed
def _patch_shutdown(cls):
    real = cls.shutdown

    def shutdown(self, wait=True, **kwargs):
        # `with ThreadPoolExecutor() as ex:` waits for the workers in the library's
        # __exit__; the caller's wait is the join of each worker, as if it had written them.
        mine = _from_user(2) or (_getframe(1).f_code.co_name == "__exit__" and _from_user(3))
        if not (wait and mine):
            return real(self, wait, **kwargs)
        where = _where(2)
        real(self, False, **kwargs)
        for t in list(getattr(self, "_threads", ())):
            _join_traced(t, None, where)
        return real(self, True, **kwargs)

    cls.shutdown = shutdown


_patch_shutdown(_cf.ThreadPoolExecutor)
_patch_submit(_cf.ThreadPoolExecutor)
_patch_submit(_cf.ProcessPoolExecutor)
_patch_map(_cfb.Executor)
_patch_map(_cf.ProcessPoolExecutor)

# ---------------------------------------------------------------------------------------
# multiprocessing: each process is a lane of the process that starts it; a forked child
# reports its own threads too, under its own pid.

import multiprocessing.process as _mpp

_real_pstart = _mpp.BaseProcess.start
_real_pjoin = _mpp.BaseProcess.join


def _pstart(self):
    where = _where(2)
    _emit("spawn", "process", id(self), self.name, where)
    r = _real_pstart(self)
    _emit("pstart", "process", id(self), "%s,%s" % (self.pid, self.name), where)
    return r


def _pjoin(self, timeout=None):
    where = _where(2)
    _emit("join", "process", id(self), self.name, where)
    r = _real_pjoin(self, timeout)
    _emit("joined" if self.exitcode is not None else "timeout", "process", id(self),
          "%s,%s" % (self.exitcode, self.name), where)
    return r


_real_pbootstrap = _mpp.BaseProcess._bootstrap


def _pbootstrap(self, *a, **k):
    # In the child: its main thread is the process's lane.
    _threads[_get_ident()] = self.name
    _emit("start", "process", id(self), self.name, ("", 0))
    return _real_pbootstrap(self, *a, **k)


_mpp.BaseProcess._bootstrap = _pbootstrap
_mpp.BaseProcess.start = _pstart
_mpp.BaseProcess.join = _pjoin


def _after_fork():
    global _wlock, _step_lock
    _wlock = _thread.allocate_lock()
    _step_lock = _thread.allocate_lock()
    _threads.clear()
    _awaiting.clear()
    _pid[0] = os.getpid()
    # A forked child dies with the process that forked it, as the tracer's own child does
    # with threadlab.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass


os.register_at_fork(after_in_child=_after_fork)

# multiprocessing's own waits (a queue's get, a pipe's recv, a pool's answer, a lock or
# semaphore shared between processes) happen in C or in pipes, out of threading's sight: each
# is drawn as a wait for what it waits on, so a lane never runs while it waits for another
# process.


def _mp_patches():
    import multiprocessing.connection as _mpc
    import multiprocessing.pool as _mppool

    def awaiting(what, real, wait_if=None):
        def call(self, *a, **k):
            if wait_if is not None and not wait_if(self, *a, **k):
                return real(self, *a, **k)
            return _awaited_call(what, _where(2), _waiting, real, self, *a, **k)

        call.__name__ = real.__name__
        call.__qualname__ = getattr(real, "__qualname__", real.__name__)
        return call

    def nothing_to_read(conn, *a, **k):
        return not conn.poll()

    for name in ("recv", "recv_bytes", "recv_bytes_into"):
        real = getattr(_mpc._ConnectionBase, name)
        setattr(_mpc._ConnectionBase, name, awaiting("%s()" % name, real, nothing_to_read))

    real_wait = _mpc.wait

    def wait(object_list, timeout=None):
        if timeout is not None and timeout <= 0:
            return real_wait(object_list, timeout)
        return _awaited_call("connection.wait()", _where(2), _waiting, real_wait, object_list,
                             timeout)

    _mpc.wait = wait
    _mppool.wait = wait
    _mppool.ApplyResult.wait = awaiting("AsyncResult.wait()", _mppool.ApplyResult.wait)
    _mppool.IMapIterator.next = awaiting("imap().next()", _mppool.IMapIterator.next)
    _mppool.IMapIterator.__next__ = _mppool.IMapIterator.next

    try:
        import multiprocessing.synchronize as _mps
    except ImportError:
        # No shared semaphores on this machine: multiprocessing's locks do not exist either.
        return
    real_make = _mps.SemLock._make_methods

    def _make_methods(self):
        real_make(self)
        c_acquire = self._semlock.acquire
        what = type(self).__name__

        def acquire(block=True, timeout=None):
            if not block:
                return c_acquire(False)
            if c_acquire(False):
                return True
            return _awaited_call(what, _where(2), _waiting, c_acquire, True, timeout)

        self.acquire = acquire

    def enter(self):
        return self.acquire()

    _mps.SemLock._make_methods = _make_methods
    _mps.SemLock.__enter__ = enter


def _waiting(real, *a, **k):
    """real(*a, **k): a wait the program's call makes, said as one (see _awaited_call)."""
    ident = _get_ident()
    w = _await_begin(ident)
    try:
        return real(*a, **k)
    finally:
        if w is not None:
            _await_end(ident, w)


_mp_patches()

# ---------------------------------------------------------------------------------------
# Waits for the world outside the program: a socket, a pipe, a child process, the keyboard, a
# signal. The kernel holds the thread in C, out of threading's sight; each such call is said as
# a wait ("outside") while it may block, so its lane is drawn waiting, never running, and never
# counted toward a deadlock: only the world outside ends it. A call that surely will not block
# (data already there, a non-blocking socket, WNOHANG) is no wait. One inside another wait
# said already (subprocess.run's own reads and waitpid) is part of it.

import functools as _functools
import select as _select
import signal as _signal
import socket as _socket
import subprocess as _subprocess

_real_poll = _select.poll


def _ready(fd, events):
    """Whether `fd` is ready for `events` now (POLLIN: a read will not block; a hang-up or an
    error counts, as the call returns at once); True when that cannot be told."""
    try:
        p = _real_poll()
        p.register(fd, events)
        return bool(p.poll(0))
    except Exception:
        return True


def _outside(what, real, no_wait=None):
    """real, each call that may block said as a wait for the world outside (see above);
    no_wait(*a, **k) says when a call cannot block."""

    def call(*a, **k):
        if _get_ident() in _awaiting or (no_wait is not None and no_wait(*a, **k)):
            return real(*a, **k)
        return _awaited_as((what, _where(2), "outside"), _waiting, real, *a, **k)

    # Named, documented and introspected (inspect.signature) as the call it stands for.
    _functools.update_wrapper(call, real)
    call._threadlab_real = real
    return call


def _sock_nonblocking(sock):
    try:
        return sock.gettimeout() == 0.0
    except Exception:
        return True


def _sock_readable(sock, *a, **k):
    return _sock_nonblocking(sock) or _ready(sock.fileno(), _select.POLLIN)


def _sock_writable(sock, *a, **k):
    return _sock_nonblocking(sock) or _ready(sock.fileno(), _select.POLLOUT)


def _sock_never(sock, *a, **k):
    # sendall may fill the buffer whatever its room now; connect waits for the peer.
    return _sock_nonblocking(sock)


for _name, _no_wait in (
    ("recv", _sock_readable),
    ("recv_into", _sock_readable),
    ("recvfrom", _sock_readable),
    ("recvfrom_into", _sock_readable),
    ("recvmsg", _sock_readable),
    ("accept", _sock_readable),
    ("send", _sock_writable),
    ("sendto", _sock_writable),
    ("sendall", _sock_never),
    ("connect", _sock_never),
):
    _real_m = getattr(_socket.socket, _name, None)
    if _real_m is not None:
        setattr(_socket.socket, _name, _outside("%s()" % _name, _real_m, _no_wait))


def _fd_readable(fd, *a, **k):
    # A non-blocking fd never waits: it answers EAGAIN.
    try:
        if not os.get_blocking(fd):
            return True
    except OSError:
        return True
    return _ready(fd, _select.POLLIN)


def _no_hang(pid, options, *a, **k):
    return bool(options & os.WNOHANG)


def _at_once(timeout):
    """A wait with no time to wait: a poll."""
    return timeout is not None and timeout <= 0


os.read = _outside("os.read()", os.read, _fd_readable)
if hasattr(os, "readv"):
    os.readv = _outside("os.readv()", os.readv, _fd_readable)
os.waitpid = _outside("os.waitpid()", os.waitpid, _no_hang)
os.wait = _outside("os.wait()", os.wait)
if hasattr(os, "wait4"):
    os.wait4 = _outside("os.wait4()", os.wait4, _no_hang)
if hasattr(os, "waitid"):
    os.waitid = _outside("os.waitid()", os.waitid, lambda idtype, ident, options: bool(options & os.WNOHANG))
_select.select = _outside("select()", _select.select, lambda r, w, x, timeout=None: _at_once(timeout))
if hasattr(_signal, "pause"):
    _signal.pause = _outside("signal.pause()", _signal.pause)
if hasattr(_signal, "sigwait"):
    _signal.sigwait = _outside("signal.sigwait()", _signal.sigwait)

import selectors as _selectors

for _cls in list(vars(_selectors).values()):
    if (
        isinstance(_cls, type)
        and issubclass(_cls, _selectors.BaseSelector)
        and "select" in vars(_cls)
        and not getattr(vars(_cls)["select"], "__isabstractmethod__", False)
    ):
        _real_m = vars(_cls)["select"]
        _cls.select = _outside("selector.select()", _real_m, lambda self, timeout=None: _at_once(timeout))

for _name in ("run", "call", "check_call", "check_output"):
    setattr(_subprocess, _name, _outside("subprocess.%s()" % _name, getattr(_subprocess, _name)))
_subprocess.Popen.wait = _outside("Popen.wait()", _subprocess.Popen.wait,
                                  lambda self, timeout=None: self.returncode is not None)
_subprocess.Popen.communicate = _outside("Popen.communicate()", _subprocess.Popen.communicate)

import builtins as _builtins
import io as _io

_builtins.input = _outside("input()", _builtins.input)


class _Stdin(_io.TextIOWrapper):
    """sys.stdin as python3 makes it (same buffer, encoding, errors and newlines), its reads
    said as waits for the keyboard or the pipe while nothing is there to read."""

    def _no_wait(self, *a):
        try:
            return _ready(self.buffer.fileno(), _select.POLLIN)
        except Exception:
            return True

    def readline(self, size=-1):
        return _stdin_read("sys.stdin.readline()", _io.TextIOWrapper.readline, self, size)

    def read(self, size=-1):
        return _stdin_read("sys.stdin.read()", _io.TextIOWrapper.read, self, size)

    def readlines(self, hint=-1):
        return _stdin_read("sys.stdin.readlines()", _io.TextIOWrapper.readlines, self, hint)


def _stdin_read(what, real, f, n):
    if _get_ident() in _awaiting or f._no_wait():
        return real(f, n)
    return _awaited_as((what, _where(3), "outside"), _waiting, real, f, n)


if type(sys.stdin) is _io.TextIOWrapper and not sys.stdin.closed:
    try:
        # The original stays as sys.__stdin__: it owns the buffer, which it would close if
        # it were collected.
        _stdin = _Stdin(
            sys.stdin.buffer,
            encoding=sys.stdin.encoding,
            errors=sys.stdin.errors,
            newline="\n",
            line_buffering=sys.stdin.line_buffering,
        )
        _stdin.mode = sys.stdin.mode
        sys.stdin = _stdin
    except Exception:
        pass

# ---------------------------------------------------------------------------------------
# asyncio: each task is a lane on its event loop's thread; its await points are recorded.

import asyncio as _aio
import asyncio.tasks as _aiot

_RealTask = _aiot.Task
# The coroutines asyncio.run runs as tasks of its own once the program's main returns.
_HOUSEKEEPING = frozenset(("shutdown_asyncgens", "shutdown_default_executor"))


def _task_who():
    t = _aio.current_task()
    if t is None:
        return None
    return ("task:%d" % id(t), t.get_name())


class Task(_RealTask):
    """asyncio's Task, reporting its end (its lane starts with its first record); its
    coroutine is the program's own, untouched."""

    def __init__(self, coro, *a, **k):
        super().__init__(coro, *a, **k)
        # asyncio's own housekeeping (shutting down generators and executors) is no lane; a
        # task the program makes of a library coroutine (`create_task(queue.get())`) is.
        code = getattr(coro, "cr_code", None)
        if (
            code is not None
            and code.co_name in _HOUSEKEEPING
            and _is_internal(code.co_filename)
        ):
            return
        self._threadlab = True
        # Its lane starts with its first step: asyncio.create_task names a task only
        # after making it.
        self.add_done_callback(_task_done)


def _task_done(t):
    me = ("task:%d" % id(t), t.get_name())
    _emit("start", "task", id(t), me[1], ("", 0), me)
    # A task stopped by CancelledError ended without finishing: its lane must not say done.
    _emit("cancelled" if t.cancelled() else "done", "task", 0, me[1], ("", 0), me)


_aiot.Task = Task
_aio.Task = Task

# The loop's thread runs a task's step (its callback is the task's own step or wake-up)
# between "enter" and "leave", and waits for I/O or a timer in select between "idle" and
# "busy": so a task's lane shows when it really runs, and its loop's thread when it idles.
import asyncio.events as _aioe
import asyncio.selector_events as _aios

_real_handle_run = _aioe.Handle._run


def _handle_run(self):
    t = getattr(self._callback, "__self__", None)
    if not getattr(t, "_threadlab", False):
        return _real_handle_run(self)
    me = ("task:%d" % id(t), t.get_name())
    loop = id(self._loop)
    ident = str(_get_ident())
    _emit("enter", "loop", loop, ident, ("", 0), me)
    try:
        return _real_handle_run(self)
    finally:
        # A task that gave its loop back at an await of something untraced (wait_for's inner
        # task, to_thread's thread, a task, asyncio.wait) waits for it: said as an "await", so
        # its lane is drawn waiting until its next step, not running.
        if getattr(t, "_fut_waiter", None) is not None and not t.done():
            what, where = _task_awaits(t)
            _emit("await", "other", _await_id(what), what, where, me)
        _emit("leave", "loop", loop, ident, ("", 0), me)


def _task_awaits(t):
    """What the suspended task `t` awaits, and the program's line it awaits it at: the
    innermost await of the program's own coroutines."""
    what, where = None, ("", 0)
    c = t.get_coro()
    for _ in range(64):
        code = getattr(c, "cr_code", None) or getattr(c, "gi_code", None)
        frame = getattr(c, "cr_frame", None) or getattr(c, "gi_frame", None)
        if code is None or frame is None:
            break
        inner = getattr(c, "cr_await", None)
        if inner is None:
            inner = getattr(c, "gi_yieldfrom", None)
        if not _is_internal(code.co_filename):
            where = (code.co_filename, frame.f_lineno)
            what = inner
        if inner is None:
            break
        c = inner
    waiter = t._fut_waiter
    if isinstance(waiter, _RealTask):
        return waiter.get_name(), where
    name = getattr(what, "__qualname__", None) or getattr(what, "__name__", None)
    if name and not isinstance(what, _aio.Future):
        return "%s()" % name, where
    return type(waiter).__name__.lstrip("_").lower() or "future", where


_aioe.Handle._run = _handle_run
_real_loop_init = _aios.BaseSelectorEventLoop.__init__


def _loop_init(self, *a, **k):
    _real_loop_init(self, *a, **k)
    sel = self._selector
    # The loop's own select is its idling, said below: not a wait for the world outside.
    real_select = getattr(type(sel).select, "_threadlab_real", None)
    real_select = real_select.__get__(sel) if real_select is not None else sel.select
    loop = id(self)

    def select(timeout=None):
        # A poll that cannot wait (ready callbacks are queued) is no idling.
        if timeout is not None and timeout <= 0:
            return real_select(timeout)
        _emit("idle", "loop", loop, "", ("", 0))
        try:
            return real_select(timeout)
        finally:
            _emit("busy", "loop", loop, "", ("", 0))

    sel.select = select


_aios.BaseSelectorEventLoop.__init__ = _loop_init
_real_asleep = _aio.sleep


async def _asleep(delay, result=None):
    me = _task_who()
    if me is None or not _from_user(2):
        return await _real_asleep(delay, result)
    where = _where(2)
    _gate_pass(me)
    _emit("sleep", "", 0, repr(delay), where, me)
    try:
        return await _real_asleep(delay, result)
    finally:
        _emit("woke", "", 0, "", where, me)


_real_gather = _aio.gather


def _gather(*aws, return_exceptions=False):
    me = _task_who()
    where = _where(2) if me is not None else None
    fut = _real_gather(*aws, return_exceptions=return_exceptions)
    if me is None or _is_internal(where[0]):
        return fut
    # The caller awaits what it gets back at once, as good as always: it waits from here
    # until every awaitable is done.
    _emit("block", "gather", id(fut), "", where, me)
    fut.add_done_callback(lambda f: _emit("pass", "gather", id(f), "", where, me))
    return fut


def _async_lock_class(base, kind):
    class L(base):
        # Only primitives the program made are traced, wherever they are used.
        _traced = False

        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self._traced = _from_user(2)
            if self._traced:
                _new(kind, self, str(a[0]) if a else "")

        async def acquire(self):
            me = _task_who()
            if me is None or not self._traced:
                return await super().acquire()
            where = _where(2)
            _gate_pass(me)
            if self.locked():
                _emit("block", kind, id(self), "", where, me)
            r = await super().acquire()
            _emit("acquire", kind, id(self), "", where, me)
            return r

        def release(self):
            me = _task_who()
            if me is not None and self._traced:
                _emit("release", kind, id(self), "", _where(2), me)
            return super().release()

        async def __aenter__(self):
            me = _task_who()
            where = _where(2)
            _gate_pass(me)
            if self.locked():
                _emit("block", kind, id(self), "", where, me)
            await super().acquire()
            _emit("acquire", kind, id(self), "", where, me)

        async def __aexit__(self, *exc):
            _emit("release", kind, id(self), "", _where(2), _task_who())
            super().release()

    L.__name__ = base.__name__
    L.__qualname__ = base.__qualname__
    return L


class AEvent(_MadeEvent, _aio.Event):
    def set(self):
        me = _task_who()
        if self._traced:
            _emit("set", "event", id(self), "", _where(2), me)
        return super().set()

    async def wait(self):
        me = _task_who()
        if me is None or not self._traced:
            return await super().wait()
        where = _where(2)
        _gate_pass(me)
        if not self.is_set():
            _emit("block", "event", id(self), "", where, me)
        r = await super().wait()
        _emit("pass", "event", id(self), "", where, me)
        return r


class AQueue(_aio.Queue):
    # Only primitives the program made are traced, wherever they are used.
    _traced = False

    def __init__(self, maxsize=0, **k):
        super().__init__(maxsize, **k)
        self._traced = _from_user(2)
        if self._traced:
            _new("queue", self, str(maxsize))

    async def put(self, item):
        me = _task_who()
        if me is None or not self._traced:
            return await super().put(item)
        where = _where(2)
        _gate_pass(me)
        if self.full():
            _emit("block", "queue", id(self), "put", where, me)
        await super().put(item)
        _emit("put", "queue", id(self), str(self.qsize()), where, me)

    async def get(self):
        me = _task_who()
        if me is None or not self._traced:
            return await super().get()
        where = _where(2)
        _gate_pass(me)
        if self.empty():
            _emit("block", "queue", id(self), "get", where, me)
        item = await super().get()
        _emit("take", "queue", id(self), str(self.qsize()), where, me)
        return item


_aio.sleep = _asleep
_aio.gather = _gather
_aio.Lock = _async_lock_class(_aio.Lock, "lock")
_aio.Semaphore = _async_lock_class(_aio.Semaphore, "semaphore")
_aio.BoundedSemaphore = _async_lock_class(_aio.BoundedSemaphore, "semaphore")
_aio.Event = AEvent
_aio.Queue = AQueue

# ---------------------------------------------------------------------------------------
# The script itself: python3 runs it after this file; its main thread is done when the
# interpreter starts waiting for the other threads at exit.

_internal_cache.clear()
_threads[_get_ident()] = "MainThread"
_SCRIPT = sys.argv[0] if sys.argv else ""
# The path records name the script by, before any record names it.
_emit("script", "", 0, _SCRIPT, (os.path.abspath(_SCRIPT), 0))
_emit("start", "thread", 0, "MainThread", ("", 0))

_real_shutdown = _th._shutdown


def _shutdown():
    _emit("done", "thread", 0, "MainThread", ("", 0))
    return _real_shutdown()


_th._shutdown = _shutdown
_real_excepthook_main = sys.excepthook


def _main_excepthook(exc_type, exc, tb):
    _emit("fail", "thread", 0, "%s: %s" % (exc_type.__name__, exc), ("", 0))
    return _real_excepthook_main(exc_type, exc, tb)


sys.excepthook = _main_excepthook
