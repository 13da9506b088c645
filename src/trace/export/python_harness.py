# ---------------------------------------------------------------------------------------------
# The harness: what lets this program be watched like the lesson. Nothing here changes how the
# threads contend; each class below is the standard primitive named in it, plus a log line for
# every change of state. Read the lesson first (below the harness), this part after.
# ---------------------------------------------------------------------------------------------

import argparse
import asyncio
import collections
import concurrent.futures
import json
import os
import queue
import random
import sys
import threading
import time

_ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_ARGS.add_argument("--events", metavar="FILE",
                   help="write every event as JSON Lines, like `threadlab run --events`")
_ARGS.add_argument("--speed", type=float, default=1.0,
                   help="run every work and sleep this many times faster (0.1 to 4)")
OPTIONS = _ARGS.parse_args()
SPEED = min(max(OPTIONS.speed, 0.1), 4.0)

_T0 = time.perf_counter()
_LOG = threading.Lock()  # always taken last, so it can be taken while a primitive is held
_EVENTS = []
_WAITING = {}     # lane -> (resource, gives up after a timeout?) while blocked in a primitive
_HOLDERS = {}     # resource -> lanes holding it, one entry per acquire
_STARTED = set()
_FINISHED = set()
_DONE = {}        # lane -> threading.Event set when the lane has finished
_FAILED = []
_THREADS = {}     # lane -> its threading.Thread
_DAEMONS = set()  # lanes started with daemon=True: nobody waits for them


def _done(lane):
    return _DONE.setdefault(lane, threading.Event())


def _me():
    """The lane running now: the asyncio task's name on the event loop, else the thread's."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task.get_name() if task is not None else threading.current_thread().name


def _kdl_line(frame=None):
    """The scenario line of the step being run: the nearest lesson line up the call stack."""
    frame = frame or sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == __file__ and frame.f_lineno in KDL_LINE:
            return KDL_LINE[frame.f_lineno]
        frame = frame.f_back
    return None


def _log(event, resource=None, item=None, timed=False, lane=None, by=None, line=None):
    lane = lane or _me()
    line = line or _kdl_line()
    with _LOG:
        record = {"t_us": int((time.perf_counter() - _T0) * 1e6), "thread": lane,
                  "event": event, "resource": resource, "by": by, "line": line}
        if item is not None:
            record["item"] = item
        _EVENTS.append(record)
        if event == "block":
            _WAITING[lane] = (resource, timed)
        else:
            _WAITING.pop(lane, None)
        if event == "acquire":
            _HOLDERS.setdefault(resource, []).append(lane)
        elif event == "release":
            holders = _HOLDERS.get(resource, [])
            # A semaphore may be released by a thread that never acquired it.
            holders.remove(lane if lane in holders else holders[0]) if holders else None
        elif event == "start":
            _STARTED.add(lane)
        elif event in ("done", "fail", "cancelled"):
            _FINISHED.add(lane)


def _write_events(stopped=()):
    """Write the events; each lane in `stopped` (a daemon the program leaves behind) ends with
    a stop on the line it was at, and nothing it does after that is written."""
    with _LOG:
        frames = sys._current_frames()
        for lane in stopped:
            frame = frames.get(_THREADS[lane].ident)
            _EVENTS.append({"t_us": int((time.perf_counter() - _T0) * 1e6), "thread": lane,
                            "event": "stop", "resource": None, "by": None,
                            "line": _kdl_line(frame) if frame else None})
            _FINISHED.add(lane)
        if OPTIONS.events:
            with open(OPTIONS.events, "w") as out:
                for record in _EVENTS:
                    out.write(json.dumps(record) + "\n")


def _calibrate():
    """Loop iterations per second of this interpreter on an idle core: the fastest of many
    short trials, as threadlab calibrates `work`, so that on a busy machine both take longer
    alike. A trial shorter than the scheduler's time slice runs undisturbed now and then even
    beside other busy programs; a long one is always cut, and would make `work` too short."""
    n, spent = 1_000, 0.0
    while spent < 0.001:
        n *= 2
        begin = time.perf_counter()
        _spin(n)
        spent = time.perf_counter() - begin
    for _ in range(15):
        begin = time.perf_counter()
        _spin(n)
        spent = min(spent, time.perf_counter() - begin)
    return n / spent


def _spin(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


# A child process (imported as __mp_main__) takes its parent's, so work is the same amount in both.
_RATE = None if __name__ == "__mp_main__" else _calibrate()
_T0 = time.perf_counter()  # the run starts now, after the calibration


def work(seconds):
    """CPU-bound Python: as many loop iterations as take `seconds` on an idle core."""
    _log("run")
    _spin(int(_RATE * seconds / SPEED))


def sleep(seconds):
    """Off the CPU, as I/O is: time.sleep releases the GIL."""
    _log("sleep")
    time.sleep(seconds / SPEED)


async def async_sleep(seconds):
    """await asyncio.sleep: this task steps aside and the loop runs another."""
    _log("sleep")
    await asyncio.sleep(seconds / SPEED)


def back_off(seconds, jitter=True):
    """After giving up on a lock: step back for a random time up to `seconds` (or exactly)."""
    _log("sleep")
    time.sleep((random.uniform(0, seconds) if jitter else seconds) / SPEED)


class Lock:
    """threading.Lock."""

    def __init__(self, name):
        self.name, self._lock = name, threading.Lock()

    def acquire(self, timeout=-1):
        if not self._lock.acquire(blocking=False):
            _log("block", self.name, timed=timeout >= 0)
            # Untimed, acquire() with no argument: Semaphore reads timeout=-1 as "already over".
            got = self._lock.acquire(timeout=timeout / SPEED) if timeout >= 0 else self._lock.acquire()
            if not got:
                _log("timeout", self.name)
                return False
        _log("acquire", self.name)
        return True

    def release(self):
        _log("release", self.name)
        self._lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class RLock(Lock):
    """threading.RLock: its holder may acquire it again; free after as many releases."""

    def __init__(self, name):
        self.name, self._lock, self._depth = name, threading.RLock(), threading.local()

    def acquire(self, timeout=-1):
        if not self._lock.acquire(blocking=False):
            _log("block", self.name)
            self._lock.acquire()
        self._depth.n = getattr(self._depth, "n", 0) + 1
        _log("acquire", self.name, item=self._depth.n)
        return True

    def release(self):
        self._depth.n -= 1
        _log("release", self.name, item=self._depth.n)
        self._lock.release()


class Semaphore(Lock):
    """threading.Semaphore(permits)."""

    def __init__(self, name, permits):
        self.name, self._lock = name, threading.Semaphore(permits)


class Barrier:
    """threading.Barrier(parties)."""

    def __init__(self, name, parties):
        self.name, self.parties, self._barrier = name, parties, threading.Barrier(parties)
        self._arrived, self._count = 0, threading.Lock()

    def wait(self):
        with self._count:
            self._arrived += 1
            last = self._arrived % self.parties == 0
            _log("arrive", self.name)
            if not last:
                _log("block", self.name)
        self._barrier.wait()
        _log("pass", self.name)


class _Flag:
    """An event, of threading's kind or asyncio's (`_kind`): set and clear are logged alike,
    and a wait that passes names who set it."""

    def __init__(self, name):
        self.name, self._event, self._setter = name, self._kind(), None

    def set(self):
        _log("set", self.name)
        self._setter = _me()
        self._event.set()

    def clear(self):
        _log("clear", self.name)
        self._event.clear()


class Event(_Flag):
    """threading.Event."""

    _kind = threading.Event

    def wait(self, timeout=None):
        if not self._event.is_set():
            _log("block", self.name)
            if not self._event.wait(None if timeout is None else timeout / SPEED):
                _log("timeout", self.name)
                return False
        _log("pass", self.name, by=self._setter)
        return True


class _Numbered:
    """A queue's items numbered 1, 2, 3... in put order (None, the sentinel, is item 0), logged
    under the queue's own mutex, so the log's order is the queue's."""

    def _put(self, entry):
        priority, item = entry
        if item is not None:
            item, self._next = self._next, self._next + 1
        _log("put", self.name, item=item or 0)
        super()._put(self._entry(priority, item))

    def _get(self):
        item = self._item(super()._get())
        _log("take", self.name, item=item or 0)
        return item

    def task_done(self):
        """queue.Queue.task_done, logging how many tasks are still unfinished."""
        with self.all_tasks_done:
            unfinished = self.unfinished_tasks - 1
            if unfinished < 0:
                raise ValueError("task_done() called too many times")
            _log("task_done", self.name, item=unfinished)
            if unfinished == 0:
                self._finished_by = _me()
                self.all_tasks_done.notify_all()
            self.unfinished_tasks = unfinished

    def join(self):
        """queue.Queue.join, logging the wait and who finished the last task."""
        with self.all_tasks_done:
            if self.unfinished_tasks:
                _log("block", self.name)
            while self.unfinished_tasks:
                self.all_tasks_done.wait()
            _log("pass", self.name, item=0, by=self._finished_by)


class _NumberedQueue(_Numbered, queue.Queue):
    def __init__(self, name, maxsize):
        super().__init__(maxsize)
        self.name, self._next, self._finished_by = name, 1, None

    def _entry(self, priority, item):
        return item

    def _item(self, entry):
        return entry


class _NumberedPriorityQueue(_Numbered, queue.PriorityQueue):
    """Entries (priority, put order, item): lowest priority first, in put order among equals;
    the sentinel after every priority."""

    def __init__(self, name, maxsize):
        super().__init__(maxsize)
        self.name, self._next, self._finished_by, self._order = name, 1, None, 0

    def _entry(self, priority, item):
        self._order += 1
        return (float("inf") if item is None else priority, self._order, item)

    def _item(self, entry):
        return entry[2]


class Queue:
    """queue.Queue(maxsize): put() waits while it is full, get() while it is empty; each put is
    a task until task_done(), and join() waits until every task is done. put(None) is the
    sentinel that tells the consumer taking it to stop."""

    _kind = _NumberedQueue

    def __init__(self, name, maxsize):
        self.name, self._queue = name, self._kind(name, maxsize)

    def put(self, item=0, priority=0):
        """Put the next numbered item (or the sentinel None)."""
        try:
            self._queue.put_nowait((priority, item))
        except queue.Full:
            _log("block", self.name)
            self._queue.put((priority, item))

    def get(self, timeout=None):
        """The next item (None for the sentinel); with a timeout, queue.Empty once it is over."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            _log("block", self.name, timed=timeout is not None)
            try:
                return self._queue.get(timeout=None if timeout is None else timeout / SPEED)
            except queue.Empty:
                _log("timeout", self.name)
                raise

    def task_done(self):
        self._queue.task_done()

    def join(self):
        self._queue.join()


class PriorityQueue(Queue):
    """queue.PriorityQueue(maxsize): get() takes the lowest priority first."""

    _kind = _NumberedPriorityQueue


class List(list):
    """A plain Python list, shared: append() adds the next numbered item (1, 2, 3...), pop(0)
    takes the oldest, and on an empty list raises IndexError, as any list does."""

    def __init__(self, name):
        super().__init__()
        self.name, self._next, self._step = name, 1, threading.Lock()

    def append(self, item=None):
        with self._step:
            item, self._next = self._next, self._next + 1
            super().append(item)
            _log("put", self.name, item=item)

    def pop(self, index=-1):
        with self._step:
            item = super().pop(index)
            _log("take", self.name, item=item)
            return item


class Condition(threading.Condition):
    """threading.Condition(lock): wait() gives the lock back and sleeps until notified, then
    takes the lock again (the log shows both waits); notify() wakes the longest waiter,
    notify_all() every one, and a notice with nobody waiting is lost."""

    def __init__(self, name, lock):
        super().__init__(lock)
        self.name = name
        self._waiting = []  # lanes in wait(), longest first, in step with the Condition's own
        self._woken_by = {}

    def _is_owned(self):
        return _me() in _HOLDERS.get(self._lock.name, [])

    def wait(self, timeout=None):
        if self._is_owned():
            self._waiting.append(_me())
        return super().wait(timeout)

    def _release_save(self):
        self._lock.release()
        _log("block", self.name)

    def _acquire_restore(self, state):
        _log("pass", self.name, by=self._woken_by.pop(_me(), None))
        self._lock.acquire()

    def notify(self, n=1):
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        woken, self._waiting = self._waiting[:n], self._waiting[n:]
        for lane in woken:
            self._woken_by[lane] = _me()
        _log("notify", self.name, item=len(woken))
        super().notify(n)

    def notify_all(self):
        self.notify(len(self._waiting))


class Future(concurrent.futures.Future):
    """concurrent.futures.Future: result() waits for the task, and re-raises what it raised."""

    def __init__(self, pool, n):
        super().__init__()
        self.pool, self.n, self.ran_by = pool, n, None

    def result(self, timeout=None):
        if not self.done():
            _log("block", self.pool, timed=timeout is not None)
            concurrent.futures.wait([self], None if timeout is None else timeout / SPEED)
            if not self.done():
                _log("timeout", self.pool, item=self.n)
        if self.done():
            _log("pass", self.pool, item=self.n, by=self.ran_by)
        return super().result(timeout=0)


_FINISH_ORDER = []  # futures in the order their tasks finished


def as_completed(futures):
    """concurrent.futures.as_completed: each future the moment its task finishes, whatever the
    order they were submitted in."""
    pending = list(futures)
    while pending:
        if not any(f.done() for f in pending):
            _log("block", pending[0].pool)
            concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
        with _LOG:
            first = min((f for f in pending if f.done()), key=_FINISH_ORDER.index)
        pending.remove(first)
        yield first


class ThreadPoolExecutor:
    """concurrent.futures.ThreadPoolExecutor(max_workers): submit() queues a call and returns
    its Future at once; each worker thread takes whatever call is next, runs it and completes
    its future. Here the worker threads are the lesson's own, named as in the lesson; each turn
    of one is a run_next(), as a ThreadPoolExecutor's worker loop does."""

    def __init__(self, name, max_workers):
        self.name, self.max_workers = name, max_workers
        self._cond = threading.Condition()
        self._calls, self._shut, self._submitted, self._running = collections.deque(), False, 0, 0

    def submit(self, fn, *args):
        with self._cond:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._submitted += 1
            future = Future(self.name, self._submitted)
            self._calls.append((future, fn, args))
            _log("put", self.name, item=future.n)
            self._cond.notify_all()
        return future

    def shutdown(self, wait=True):
        with self._cond:
            self._shut = True
            _log("set", self.name)
            self._cond.notify_all()
            while wait and (self._calls or self._running):
                self._cond.wait()

    def run_next(self):
        """One turn of a worker thread: the next call, run, its future completed. False when
        the pool is shut down and nothing is left: the worker thread ends."""
        with self._cond:
            if not self._calls and not self._shut:
                _log("block", self.name)
            while not self._calls and not self._shut:
                self._cond.wait()
            if not self._calls:
                return False
            future, fn, args = self._calls.popleft()
            self._running += 1
            _log("take", self.name, item=future.n)
        future.set_running_or_notify_cancel()
        future.ran_by = _me()
        try:
            result = fn(*args)
        except Exception as error:
            self._finished(future, "raise")
            future.set_exception(error)
        else:
            self._finished(future, "task_done")
            future.set_result(result)
        with self._cond:
            self._running -= 1
            self._cond.notify_all()
        return True

    def _finished(self, future, event):
        _log(event, self.name, item=future.n)
        with _LOG:
            _FINISH_ORDER.append(future)


class RWLock:
    """A readers-writer lock on a Condition: many readers or one writer.

    Fair by default: threads get in in the order they asked, so a reader that comes after a
    waiting writer waits behind it. With prefer_readers, a reader gets in whenever no writer
    holds it, even past a waiting writer.
    """

    def __init__(self, name, prefer_readers=False):
        self.name, self.prefer_readers = name, prefer_readers
        self._cond = threading.Condition()
        self._readers, self._writer = 0, False
        self._next_ticket, self._serving = 0, 0
        self._writes = threading.local()
        self._skip = set()

    def _enter(self, write):
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1

            def may_enter():
                if self._writer or (write and self._readers):
                    return False
                return (not write and self.prefer_readers) or self._serving == ticket

            if not may_enter():
                _log("block", self.name)
                self._cond.wait_for(may_enter)
            if write:
                self._writer = True
            else:
                self._readers += 1
            # Tickets are served in order; a reader that jumped the queue leaves its ticket to
            # be skipped when the line reaches it.
            self._skip.add(ticket)
            while self._serving in self._skip:
                self._skip.discard(self._serving)
                self._serving += 1
            self._writes.now = write
            _log("acquire", self.name)
            self._cond.notify_all()

    def acquire_read(self):
        self._enter(write=False)

    def acquire_write(self):
        self._enter(write=True)

    def release(self):
        with self._cond:
            _log("release", self.name)
            if self._writes.now:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class Counter:
    """A shared int. `hits += 1` in Python is a load, an add and a store; so it is here."""

    def __init__(self, name):
        self.name, self.value, self._step = name, 0, threading.Lock()

    def load(self):
        with self._step:
            _log("load", self.name, item=self.value)
            return self.value

    def store(self, value):
        with self._step:
            self.value = value
            _log("store", self.name, item=value)


def _lane(target, name):
    def run():
        _log("start", lane=name)
        try:
            target()
        except BaseException:
            _FAILED.append(name)
            _log("fail", lane=name)
            _done(name).set()
            raise
        _log("done", lane=name)
        _done(name).set()

    return run


def start(target, *names, daemon=False):
    """Start one thread per name, each running target (daemon threads: nobody waits for them)."""
    for name in names:
        _THREADS[name] = threading.Thread(target=_lane(target, name), name=name, daemon=daemon)
        if daemon:
            _DAEMONS.add(name)
        _THREADS[name].start()
    return names


def join(*groups):
    """Wait until every lane of these groups has finished."""
    for names in groups:
        for name in names:
            _done(name).wait()


async def _task(coroutine_function, name, after):
    try:
        for group in after:
            # asyncio.wait cancels nothing it waits for: a task cancelled here leaves the
            # group, and the others waiting for it, as they were.
            await asyncio.wait(group)
        _log("start", lane=name)
        await coroutine_function()
    except asyncio.CancelledError as error:
        # CancelledError leaves every `async with` block it passes through: the permits and
        # locks of asyncio's the task holds are given back, as threadlab gives them back.
        for primitive in _ASYNC_PERMITS:
            while name in _HOLDERS.get(primitive.name, []):
                primitive.release()
        _log("cancelled", lane=name, by=_CANCELLED_BY.get(name), line=_raised_at(error))
        _ENDED.append(name)
        _done(name).set()
        raise
    except BaseException:
        _FAILED.append(name)
        _log("fail", lane=name)
        _ENDED.append(name)
        _done(name).set()
        raise
    _log("done", lane=name)
    _ENDED.append(name)
    _done(name).set()


def create_tasks(coroutine_function, *names, after=()):
    """One asyncio task per name, each running the coroutine function once every task in
    `after` (lists of tasks, or of threads_finished futures) has ended. Every task exists from
    the start, as gather() makes them, so a task may await or cancel one still waiting."""
    loop = asyncio.get_running_loop()
    return [_Task(_task(coroutine_function, name, after), loop=loop, name=name)
            for name in names]


def threads_finished(names):
    """A future of the running loop, done once every thread of `names` has finished. A helper
    thread waits for them, so the loop's executor threads are left to the lesson's own calls."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def wait():
        join(names)
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))

    threading.Thread(target=wait, name="joiner", daemon=True).start()
    return [future]


def start_event_loop(name, main):
    """Run the coroutine main on an asyncio event loop in a thread of its own."""
    thread = threading.Thread(target=asyncio.run, args=(main(),), name=name)
    thread.start()
    return thread


# ---- asyncio's own primitives, and tasks awaiting tasks -----------------------------------------

_CANCELLED_BY = {}  # task -> the lane that cancelled it
_ENDED = []         # tasks in the order they ended
_EXECUTOR = set()   # the loop's executor threads (asyncio_0, ...) that ran a call
_ASYNC_PERMITS = []  # every AsyncSemaphore and AsyncLock, which a cancelled task gives back


def _raised_at(error):
    """The scenario line of the await an exception was raised at: the deepest lesson line in
    its traceback."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == __file__ and tb.tb_lineno in KDL_LINE:
            line = KDL_LINE[tb.tb_lineno]
        tb = tb.tb_next
    return line


class _Task(asyncio.Task):
    """asyncio.Task, whose cancel() says who cancelled it (a task that is done is not)."""

    def cancel(self, msg=None):
        if not self.done() and self.get_name() not in _CANCELLED_BY:
            _CANCELLED_BY[self.get_name()] = _me()
            lanes = globals().get("LANES", ())
            index = lanes.index(self.get_name()) if self.get_name() in lanes else None
            _log("cancel", item=index)
        return super().cancel(msg)


class AsyncSemaphore:
    """asyncio.Semaphore(permits): a task that finds no permit awaits one, and the loop runs
    other tasks meanwhile."""

    _kind = asyncio.Semaphore

    def __init__(self, name, *args):
        self.name, self._lock = name, self._kind(*args)
        _ASYNC_PERMITS.append(self)

    async def acquire(self):
        # asyncio hands a freed lock or permit to the first task waiting for it, so a task
        # that comes while one waits waits too, though the lock is not taken yet.
        waiters = self._lock._waiters or ()
        if self._lock.locked() or any(not w.cancelled() for w in waiters):
            _log("block", self.name)
        await self._lock.acquire()
        _log("acquire", self.name)
        return True

    def release(self):
        _log("release", self.name)
        self._lock.release()


class AsyncLock(AsyncSemaphore):
    """asyncio.Lock()."""

    _kind = asyncio.Lock


class AsyncEvent(_Flag):
    """asyncio.Event()."""

    _kind = asyncio.Event

    async def wait(self):
        if not self._event.is_set():
            _log("block", self.name)
            await self._event.wait()
        _log("pass", self.name, by=self._setter)
        return True


class _AsyncNumberedQueue(asyncio.Queue):
    """An asyncio.Queue's items numbered 1, 2, 3... in put order (None, the sentinel, is 0)."""

    def __init__(self, name, maxsize):
        super().__init__(maxsize)
        self.name, self._next, self._finished_by = name, 1, None

    def _put(self, item):
        if item is not None:
            item, self._next = self._next, self._next + 1
        _log("put", self.name, item=item or 0)
        super()._put(item)

    def _get(self):
        item = super()._get()
        _log("take", self.name, item=item or 0)
        return item

    def task_done(self):
        unfinished = self._unfinished_tasks - 1
        if unfinished < 0:
            raise ValueError("task_done() called too many times")
        _log("task_done", self.name, item=unfinished)
        if unfinished == 0:
            self._finished_by = _me()
        super().task_done()


class AsyncQueue:
    """asyncio.Queue(maxsize): await put() waits while it is full, await get() while it is
    empty; join() awaits the last task_done()."""

    def __init__(self, name, maxsize):
        self.name, self._queue = name, _AsyncNumberedQueue(name, maxsize)

    async def put(self, item=0):
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            _log("block", self.name)
            await self._queue.put(item)

    async def get(self):
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            _log("block", self.name)
            return await self._queue.get()

    def task_done(self):
        self._queue.task_done()

    async def join(self):
        if self._queue._unfinished_tasks:
            _log("block", self.name)
        await self._queue.join()
        _log("pass", self.name, item=0, by=self._queue._finished_by)


def _awaiting(tasks):
    """The running task awaits the ends of `tasks`, with no timeout: recorded as threadlab
    records it (a sleep), yet to the watchdog it waits for good, as a blocked lane does, since
    only those tasks' moving on can end its wait."""
    with _LOG:
        _WAITING[_me()] = (" and ".join(sorted({t.get_name() for t in tasks})), False)


async def gather(*tasks):
    """asyncio.gather(*tasks): goes on when every one of them has ended."""
    _log("sleep")
    _awaiting(tasks)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    _log("pass")
    return results


async def wait(tasks, return_when=asyncio.ALL_COMPLETED):
    """asyncio.wait(tasks, return_when=...): the tasks done and those still pending; it cancels
    nothing itself."""
    _log("sleep")
    _awaiting(tasks)
    done, pending = await asyncio.wait(tasks, return_when=return_when)
    first = min((t.get_name() for t in done), key=_ENDED.index)
    _log("pass", by=first if return_when == asyncio.FIRST_COMPLETED else None)
    return done, pending


async def wait_for(aw, timeout):
    """asyncio.wait_for(aw, timeout): at the timeout it cancels aw, waits for it to stop, and
    raises TimeoutError (logged when it arrives, after the cancel it follows)."""
    _log("sleep")
    try:
        return await asyncio.wait_for(aw, timeout / SPEED)
    except TimeoutError:
        _log("timeout")
        raise


async def to_thread(fn, *args):
    """asyncio.to_thread(fn, *args): fn runs on a thread of the loop's default executor
    (asyncio_0, asyncio_1, ...) while this task awaits its result; the loop runs others."""
    with _LOG:
        n = len(_EXECUTOR_CALLS) + 1
        _EXECUTOR_CALLS.append(n)
    _log("put", "executor", item=n)
    _log("block", "executor")
    ran_by = []

    def call():
        me = threading.current_thread().name
        if me not in _EXECUTOR:
            _EXECUTOR.add(me)
            _log("start")
        _log("take", "executor", item=n)
        ran_by.append(me)
        fn(*args)
        _log("task_done", "executor", item=n)
        # Idle until the next call, as threadlab's worker waits on the executor: a deadlock
        # elsewhere is no less one for an executor thread that nothing will call again.
        with _LOG:
            _WAITING[me] = ("executor", False)

    result = await asyncio.to_thread(call)
    _log("pass", "executor", item=n, by=ran_by[0])
    return result


_EXECUTOR_CALLS = []


def _executor_done():
    """asyncio.run ends by shutting its default executor down: its threads end there."""
    for lane in sorted(_EXECUTOR):
        _log("done", lane=lane)


def _watchdog(quiet_for=0.5):
    """Report a deadlock: every running lane blocked for good and nothing changing for a while."""
    seen, quiet = -1, 0.0
    while True:
        time.sleep(0.05)
        with _LOG:
            live = _STARTED - _FINISHED
            stuck = live and all(_WAITING.get(lane, (None, True))[1] is False for lane in live)
            if stuck and seen == len(_EVENTS):
                quiet += 0.05
            else:
                quiet, seen = 0.0, len(_EVENTS)
            if quiet < quiet_for:
                continue
            lines = []
            for lane in sorted(live):
                resource = _WAITING[lane][0]
                holders = sorted(set(_HOLDERS.get(resource, [])))
                held = ", held by " + " and ".join(holders) if holders else ""
                lines.append(f"  {lane} waits for {resource}{held}")
            failed = list(_FAILED)
        # A failure comes first: the threads left waiting wait on what the failed one left.
        if failed:
            print(f"failed: {', '.join(failed)}; after that every running thread waits:",
                  file=sys.stderr)
        else:
            print("deadlock: every running thread waits and none can go on:", file=sys.stderr)
        print("\n".join(lines), file=sys.stderr)
        _write_events()
        os._exit(1 if failed else 3)


threading.Thread(target=_watchdog, name="watchdog", daemon=True).start()


# ---- processes: multiprocessing, each child an interpreter with its own memory and GIL ----------

import multiprocessing

# Spawned, not forked: a fresh interpreter, as on macOS and Windows, which is why the program
# starts its work under `if __name__ == "__main__":`.
_SPAWN = multiprocessing.get_context("spawn")
_MP_QUEUES = {}  # resource -> MpQueue, as this process made them
_CHILDREN = []   # every child process started here
_HOME = []       # the queue children send their events home on, once there is one
_IN_PROCESSES = {}  # lane of a child process -> the multiprocessing.Event its end sets


class MpQueue:
    """multiprocessing.Queue(): a pipe every process may use. put() does not wait; get() waits
    for an item. Items are numbered as threadlab numbers them: (lane + 1) * 1000 + n."""

    def __init__(self, name):
        self.name, self._queue, self._puts = name, _SPAWN.Queue(), {}
        _MP_QUEUES[name] = self

    def put(self, item=0):
        """Put the lane's next numbered item (or the sentinel None)."""
        lane = _me()
        if item is None:
            number = 0
        else:
            self._puts[lane] = self._puts.get(lane, 0) + 1
            number = (LANE_INDEX[lane] + 1) * 1000 + self._puts[lane]
        _log("put", self.name, item=number)
        self._queue.put((number, lane))

    def get(self):
        """The next item (None for the sentinel), waiting until one comes."""
        try:
            number, putter = self._queue.get_nowait()
        except queue.Empty:
            # Another process may still put one: this wait is never called a deadlock here.
            _log("block", self.name, timed=True)
            number, putter = self._queue.get()
        _log("take", self.name, item=number, by=putter)
        return None if number == 0 else number


def in_processes(*lanes):
    """The lanes that run in child processes: each one's end is a multiprocessing.Event, made
    before any process starts, so a lane of any process may wait for it (join)."""
    for lane in lanes:
        _DONE[lane] = _IN_PROCESSES[lane] = _SPAWN.Event()


def start_process(name, *groups):
    """Start process `name` running each (function, lanes) of groups on threads of its own.
    Its lanes show the process starting until their threads start in it."""
    if not _HOME:
        _HOME.append(_SPAWN.Queue())
    at = time.perf_counter()
    queues = {resource: q._queue for resource, q in _MP_QUEUES.items()}
    process = _SPAWN.Process(target=_child, name=name,
                             args=(groups, _T0, _RATE, _HOME[0], queues, _IN_PROCESSES))
    process.start()
    with _LOG:
        for _, lanes in groups:
            for lane in lanes:
                _EVENTS.append({"t_us": int((at - _T0) * 1e6), "thread": lane, "event": "spawn",
                                "resource": None, "by": None, "line": None, "item": process.pid})
    _CHILDREN.append(process)


def _child(groups, t0, rate, home, queues, ends):
    """A child process: its lanes on its threads, on the parent's clock, calibration and pipes,
    each lane's end told to every process; its events go home when they are done."""
    global _T0, _RATE
    _T0, _RATE = t0, rate
    _DONE.update(ends)
    for resource, inherited in queues.items():
        _MP_QUEUES[resource]._queue = inherited
    lanes = [lane for target, names in groups for lane in start(target, *names)]
    join(lanes)
    with _LOG:
        home.put(list(_EVENTS))


def _gather_children():
    """Every child's events, merged with this process's in time order; then the children end.
    A child that died without sending its events (killed from outside) is not waited for."""
    for _ in _CHILDREN:
        events = None
        while events is None:
            try:
                events = _HOME[0].get(timeout=0.1)
            except queue.Empty:
                if not any(process.is_alive() for process in _CHILDREN):
                    try:
                        events = _HOME[0].get(timeout=0.5)
                    except queue.Empty:
                        events = []
        with _LOG:
            _EVENTS.extend(events)
            _FAILED.extend(e["thread"] for e in events if e["event"] == "fail")
    for process in _CHILDREN:
        process.join()
    with _LOG:
        _EVENTS.sort(key=lambda e: e["t_us"])


def finish(lanes):
    """Wait for every lane but the daemons, write the events, exit 0 (1 when a lane failed; a
    deadlock exits 3 from the watchdog). Daemon threads still running are stopped where they
    are, as Python stops them when the program ends."""
    join([lane for lane in lanes if lane not in _DAEMONS])
    _gather_children()
    _executor_done()
    _write_events(stopped=[lane for lane in lanes if lane in _DAEMONS and lane in _STARTED
                           and not _done(lane).is_set()])
    sys.exit(1 if _FAILED else 0)
