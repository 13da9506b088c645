# A crawler: one thread runs an asyncio loop that fetches four pages, two at a time
# (asyncio.Semaphore); a writer thread saves each page under a lock, fed by a queue.
import asyncio
import queue
import threading
import time

pages = queue.Queue(maxsize=2)
disk = threading.Lock()


async def fetch(url, seconds):
    await asyncio.sleep(seconds)  # the network
    return url


async def crawl():
    at_once = asyncio.Semaphore(2)

    async def one(url, seconds):
        async with at_once:
            page = await fetch(url, seconds)
        pages.put(page)  # a blocking put: the whole loop waits while the queue is full

    urls = [("home", 0.3), ("about", 0.2), ("blog", 0.4), ("shop", 0.1)]
    await asyncio.gather(*(asyncio.create_task(one(u, s), name=u) for u, s in urls))


def crawler():
    asyncio.run(crawl())
    pages.put(None)


def writer():
    while (page := pages.get()) is not None:
        with disk:
            time.sleep(0.25)  # writing the page


threads = [
    threading.Thread(target=crawler, name="crawler"),
    threading.Thread(target=writer, name="writer"),
]
for t in threads:
    t.start()
for t in threads:
    t.join()
