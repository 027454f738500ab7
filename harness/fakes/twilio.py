"""
A Twilio-compatible fake of the Messages API, on loopback only, for tests and benchmarks.

It answers the calls the Twilio backend makes, the way Twilio answers them:

- ``POST /2010-04-01/Accounts/{sid}/Messages.json``: 201 with a Message (``sid``
  ``SM`` + 32 hex digits, ``status`` ``queued``), or a Twilio error body
  ``{code, message, more_info, status}``;
- ``GET .../Messages.json`` (filters ``To``, ``From``, ``DateSent``, ``DateSent<``,
  ``DateSent>``; paged) and ``GET .../Messages/{sid}.json``, for lookups.

What it can be told to do (``FakeConfig``, on the command line or at run time
through ``POST /_fake/config``):

- ``delay`` (and ``delay_max``): seconds before every answer, or a uniform draw between
  the two (``--delay 0.15-0.25``: Twilio's latency with its jitter);
- ``segment_rate`` and ``queue_seconds``: Twilio's queueing, per sender: it sends
  ``segment_rate`` segments a second (counted from each body's real encoding,
  GSM-7 or UCS-2), accepts and queues what exceeds it, posts the status callbacks
  when each text leaves the queue, and refuses with 21611 a text that would wait
  longer than ``queue_seconds``;
- ``errors``: a mix of outcomes by probability: ``500``, ``503``, ``429``
  (code 20429), ``drop`` (the connection is closed without an answer and nothing
  is recorded), ``timeout`` (the message is accepted and recorded, then the
  answer is held for ``hold_seconds``, past the client's read timeout), a
  refusal code (``21211``, ``21408``, ``21610``, ``21614``),
  ``undelivered:30003`` / ``failed:30007`` (accepted, then reported so by the
  status callback and in lookups), or ``created:500`` / ``created:503`` (the
  message is created and goes out, then the answer is that server error, as
  when Twilio or a proxy in front of it fails after the work is done);
- ``rules``: a fixed outcome, or a list of outcomes in turn, per ``To`` number;
- ``rate_limit``: messages per second per sender (``From`` or
  ``MessagingServiceSid``), a token bucket of ``rate_burst`` tokens; over it the
  answer is 429 with code 20429 and nothing is recorded;
- ``callbacks``: status words (``sent``, ``delivered``) posted to each message's
  ``StatusCallback``, signed with the auth token exactly as Twilio signs them;
  each post's round trip (until the app has answered) is timed, and its p50, p99
  and maximum are in the stats (``callback_round_trip_ms``).

Every request is counted, and every accepted message per (``To``, ``Body``),
so a duplicate text shows: ``GET /_fake/stats``. ``GET /_fake/messages`` lists
what was accepted with its arrival time, its segments and when it left the sender's
queue; ``POST /_fake/reset`` forgets it all.

    python -m harness.fakes.twilio --port 8089 --rate-limit 10 --errors 500=0.01,timeout=0.005

It needs no Django; the server is a ``ThreadingHTTPServer`` (a thread per
keep-alive connection) that writes each answer in one piece.
"""

import argparse
import base64
import heapq
import json
import math
import random
import re
import signal
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from reminders.sms_encoding import sms_cost

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
SENDER = "+12025550199"
API_VERSION = "2010-04-01"
HOST = "127.0.0.1"  # loopback only, by design
# Status callbacks posted at once, at most (one thread each).
CALLBACK_THREADS = 4

MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")

# Twilio's refusals: code -> (HTTP status, message).
REFUSALS = {
    "20003": (401, "Authenticate"),
    "20404": (404, "The requested resource was not found"),
    "20429": (429, "Too Many Requests"),
    "20500": (500, "Internal Server Error"),
    "20503": (503, "Service Unavailable"),
    "21211": (400, "The 'To' number is not a valid phone number."),
    "21408": (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."),
    "21602": (400, "Message body is required."),
    "21603": (400, "A 'From' phone number is required."),
    "21604": (400, "A 'To' phone number is required."),
    "21610": (400, "Attempt to send to unsubscribed recipient"),
    "21611": (400, "This 'From' number has exceeded the maximum number of queued messages"),
    "21614": (400, "'To' number is not a valid mobile number"),
}
# Short names for the error mix.
ALIASES = {"429": "20429", "500": "20500", "503": "20503"}
OUTCOMES_WITHOUT_CODE = {"ok", "drop", "timeout"}
DELIVERY_FAILURE = re.compile(r"^(undelivered|failed):(\d+)$")
# Created, then answered with this server error.
ERROR_AFTER_CREATE = re.compile(r"^created:(500|503)$")

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def _check_outcome(outcome: str) -> str:
    outcome = ALIASES.get(outcome, outcome)
    if (outcome in OUTCOMES_WITHOUT_CODE or outcome in REFUSALS or DELIVERY_FAILURE.match(outcome)
            or ERROR_AFTER_CREATE.match(outcome)):
        return outcome
    raise ValueError(f"unknown outcome {outcome!r}")


@dataclass
class FakeConfig:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    delay: float = 0.0
    # With delay_max above delay, each answer waits a uniform draw between the two (latency with jitter).
    delay_max: float = 0.0
    errors: dict[str, float] = field(default_factory=dict)
    rules: dict[str, str | list[str]] = field(default_factory=dict)
    hold_seconds: float = 30.0
    rate_limit: float = 0.0
    rate_burst: float = 1.0
    callbacks: list[str] = field(default_factory=list)
    callback_delay: float = 0.0
    # Twilio's queueing: each sender sends segment_rate segments a second; what exceeds it is
    # accepted and queued, sent at that rate, and refused with 21611 once the queue would hold
    # a message longer than queue_seconds. 0: no queue (everything goes out at once).
    segment_rate: float = 0.0
    queue_seconds: float = 36_000.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.delay_max and self.delay_max < self.delay:
            raise ValueError("delay_max is below delay")
        self.errors = {_check_outcome(k): float(v) for k, v in self.errors.items()}
        if sum(self.errors.values()) > 1:
            raise ValueError("the error probabilities add up to more than 1")
        self.rules = {to: ([_check_outcome(o) for o in v] if isinstance(v, list) else _check_outcome(v))
                      for to, v in self.rules.items()}

    def replace(self, **changes) -> "FakeConfig":
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return FakeConfig(**{**asdict(self), **changes})


def _rfc2822(moment: float) -> str:
    return format_datetime(datetime.fromtimestamp(moment, UTC))


@dataclass(slots=True)
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str
    received_at: float  # wall clock, comparable with times in the database
    status: str = "queued"
    error_code: int | None = None
    final_status: str = "sent"  # what it becomes: sent, or a delivery failure
    final_error: int | None = None
    segments: int = 1
    sent_at: float = 0.0  # when it leaves the sender's queue (wall clock); its arrival without a queue

    def as_json(self) -> dict:
        created = _rfc2822(self.received_at)
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": self.body,
            "date_created": created, "date_sent": created if self.status != "queued" else None,
            "date_updated": created, "direction": "outbound-api", "error_code": self.error_code,
            "error_message": None, "from": self.from_, "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0", "num_segments": str(self.segments), "price": None,
            "price_unit": "USD", "sid": self.sid, "status": self.status,
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json"},
            "to": self.to, "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json",
        }


class _Bucket:
    """A token bucket on the monotonic clock (the fake's own, not the app's)."""

    __slots__ = ("at", "capacity", "rate", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity, self.tokens, self.at = rate, capacity, capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Answer:
    status: int = 200
    payload: object = None
    drop: bool = False  # close the connection without answering
    hold: bool = False  # answer only after hold_seconds


class FakeTwilio:
    """The state and behaviour of the fake, apart from HTTP."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.release = threading.Event()  # set on shutdown: held answers stop waiting
        self._callbacks = _CallbackSender()
        self.configure(config or FakeConfig())
        self.reset()

    def configure(self, config: FakeConfig) -> None:
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)
            self._buckets: dict[str, _Bucket] = {}
            self._rule_turns: Counter = Counter()

    def reset(self) -> None:
        with self._lock:
            self.messages: list[FakeMessage] = []
            self.by_sid: dict[str, FakeMessage] = {}
            self.requests = 0
            self.creates = 0
            self.lookups = 0
            self.outcomes: Counter = Counter()
            self.attempts_per_message: Counter = Counter()
            self.accepted_per_message: Counter = Counter()
            self.per_sender: dict[str, Counter] = defaultdict(Counter)
            self._queue_free_at: dict[str, float] = {}  # per sender: when its queue empties (wall clock)
            self.queue_wait_max: dict[str, float] = defaultdict(float)
            self.started_at = time.time()
            self._buckets = {}
            self._rule_turns = Counter()
            self._callbacks.reset_counts()

    def close(self) -> None:
        self.release.set()
        self._callbacks.close()

    # -- the API -------------------------------------------------------------

    def _authorized(self, account: str, authorization: str) -> bool:
        if account != self.config.account_sid or not authorization.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.config.account_sid and password == self.config.auth_token

    @staticmethod
    def refusal(code: str) -> Answer:
        status, message = REFUSALS[code]
        return Answer(status, {"code": int(code), "message": message,
                               "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})

    def _pick_outcome(self, to: str) -> str:
        rule = self.config.rules.get(to)
        if isinstance(rule, list):
            turn = self._rule_turns[to]
            self._rule_turns[to] += 1
            return rule[min(turn, len(rule) - 1)]
        if rule:
            return rule
        roll, total = self._random.random(), 0.0
        for outcome, probability in self.config.errors.items():
            total += probability
            if roll < total:
                return outcome
        return "ok"

    def create(self, *, account: str, authorization: str, form: dict[str, str]) -> Answer:
        received_at = time.time()
        if not self._authorized(account, authorization):
            return self.refusal("20003")
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("MessagingServiceSid") or form.get("From", "")
        for value, code in ((to, "21604"), (body, "21602"), (sender, "21603")):
            if not value:
                return self.refusal(code)
        key = (to, body)
        with self._lock:
            self.creates += 1
            self.attempts_per_message[key] += 1
            if self.config.rate_limit > 0:
                bucket = self._buckets.get(sender)
                if bucket is None:
                    bucket = self._buckets[sender] = _Bucket(self.config.rate_limit, self.config.rate_burst)
                if not bucket.take():
                    self.outcomes["rate_limited"] += 1
                    self.per_sender[sender]["rate_limited"] += 1
                    return self.refusal("20429")
            outcome = self._pick_outcome(to)
            self.outcomes[outcome] += 1
            if outcome == "drop":
                return Answer(drop=True)
            if outcome in REFUSALS:
                self.per_sender[sender]["refused"] += 1
                return self.refusal(outcome)
            segments = sms_cost(body).segments
            sent_at = received_at
            if self.config.segment_rate > 0:
                # Queued behind the sender's earlier texts, sent at its rate in segments.
                sent_at = max(received_at, self._queue_free_at.get(sender, received_at))
                if sent_at - received_at > self.config.queue_seconds:
                    self.outcomes["queue_overflow"] += 1
                    self.per_sender[sender]["queue_overflow"] += 1
                    return self.refusal("21611")
                self._queue_free_at[sender] = sent_at + segments / self.config.segment_rate
                self.queue_wait_max[sender] = max(self.queue_wait_max[sender], sent_at - received_at)
            message = FakeMessage(
                sid="SM" + uuid.uuid4().hex, account_sid=account, to=to,
                from_=form.get("From") or None, messaging_service_sid=form.get("MessagingServiceSid") or None,
                body=body, status_callback=form.get("StatusCallback", ""), received_at=received_at,
                segments=segments, sent_at=sent_at,
            )
            failure = DELIVERY_FAILURE.match(outcome)
            if failure:
                message.final_status, message.final_error = failure[1], int(failure[2])
            self.messages.append(message)
            self.by_sid[message.sid] = message
            self.accepted_per_message[key] += 1
            self.per_sender[sender]["accepted"] += 1
            answer = Answer(201, message.as_json(), hold=outcome == "timeout")
            if after_create := ERROR_AFTER_CREATE.match(outcome):
                answer = self.refusal({"500": "20500", "503": "20503"}[after_create[1]])
            # As far as lookups go, it went out at once.
            message.status, message.error_code = message.final_status, message.final_error
        if message.status_callback and self.config.callbacks:
            self._callbacks.schedule(message=message, config=self.config)
        return answer

    def lookup(self, *, account: str, authorization: str, query: dict[str, str]) -> Answer:
        if not self._authorized(account, authorization):
            return self.refusal("20003")
        with self._lock:
            self.lookups += 1
            found = [m for m in reversed(self.messages) if _matches(m, query)]
        size = min(int(query.get("PageSize", 50)), 1000)
        page = int(query.get("Page", 0))
        chunk = found[page * size:(page + 1) * size]
        base = f"/{API_VERSION}/Accounts/{account}/Messages.json"
        following = {**query, "Page": str(page + 1), "PageSize": str(size)}
        return Answer(200, {
            "messages": [m.as_json() for m in chunk],
            "end": page * size + max(len(chunk) - 1, 0),
            "first_page_uri": f"{base}?{urlencode({**query, 'Page': '0'})}",
            "next_page_uri": f"{base}?{urlencode(following)}" if len(found) > (page + 1) * size else None,
            "page": page, "page_size": size, "previous_page_uri": None, "start": page * size,
            "uri": f"{base}?{urlencode(query)}",
        })

    def fetch(self, *, account: str, authorization: str, sid: str) -> Answer:
        if not self._authorized(account, authorization):
            return self.refusal("20003")
        with self._lock:
            self.lookups += 1
            message = self.by_sid.get(sid)
        return Answer(200, message.as_json()) if message else self.refusal("20404")

    # -- the fake's own endpoints -------------------------------------------

    def stats(self, *, summary: bool = False) -> dict:
        with self._lock:
            accepted = list(self.accepted_per_message.items())
            attempts = dict(self.attempts_per_message)
            times = [m.received_at for m in self.messages]
            result = {
                "requests": self.requests, "creates": self.creates, "lookups": self.lookups,
                "accepted": len(self.messages), "rate_limited": self.outcomes["rate_limited"],
                "outcomes": dict(self.outcomes),
                "duplicates": sum(count - 1 for _, count in accepted if count > 1),
                "duplicate_messages": [{"to": to, "body": body, "count": count}
                                       for (to, body), count in accepted if count > 1],
                "per_sender": {sender: dict(counts) for sender, counts in self.per_sender.items()},
                "first_accepted_at": min(times, default=None), "last_accepted_at": max(times, default=None),
                "last_sent_at": max((m.sent_at for m in self.messages), default=None),
                "segments": sum(m.segments for m in self.messages),
                "queue_wait_max_seconds": {sender: round(wait, 3) for sender, wait in self.queue_wait_max.items()},
                "callbacks": self._callbacks.counts(), "callback_round_trip_ms": self._callbacks.round_trips(),
                "started_at": self.started_at,
            }
        if not summary:
            result["messages"] = [{"to": to, "body": body, "accepted": count, "requests": attempts[(to, body)]}
                                  for (to, body), count in accepted]
        return result

    def recorded(self) -> list[dict]:
        with self._lock:
            return [{"sid": m.sid, "to": m.to, "from": m.from_, "messaging_service_sid": m.messaging_service_sid,
                     "body": m.body, "status_callback": m.status_callback, "received_at": m.received_at,
                     "status": m.status, "segments": m.segments, "sent_at": m.sent_at} for m in self.messages]


def _query_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def _matches(message: FakeMessage, query: dict[str, str]) -> bool:
    if query.get("To") and message.to != query["To"]:
        return False
    if query.get("From") and message.from_ != query["From"]:
        return False
    # Like Twilio, the DateSent filters compare whole days (UTC).
    sent = datetime.fromtimestamp(message.received_at, UTC).date()
    if query.get("DateSent") and sent != _query_date(query["DateSent"]):
        return False
    if query.get("DateSent>") and sent < _query_date(query["DateSent>"]):
        return False
    return not (query.get("DateSent<") and sent > _query_date(query["DateSent<"]))


def _percentile_ms(ordered: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted seconds, in milliseconds; None for none."""
    if not ordered:
        return None
    rank = max(math.ceil(share * len(ordered)), 1)
    return round(ordered[rank - 1] * 1000, 2)


class _CallbackSender:
    """Posts status callbacks from a few background threads, each at its due time."""

    THREADS = CALLBACK_THREADS

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, str, dict]] = []
        self._cond = threading.Condition()
        self._seq = 0
        self._closed = False
        self._counts: Counter = Counter()
        # Each post's round trip in seconds, answered or not: what the app's web server took.
        self._round_trips: list[float] = []
        self._threads: list[threading.Thread] = []

    def schedule(self, *, message: FakeMessage, config: FakeConfig) -> None:
        statuses = list(config.callbacks)
        if message.final_status != "sent":
            statuses = [s for s in statuses if s not in {"delivered", "read"}] + [message.final_status]
        validator = RequestValidator(config.auth_token)
        posts = []
        for status in statuses:
            params = {"AccountSid": message.account_sid, "ApiVersion": API_VERSION,
                      "From": message.from_ or "", "MessageSid": message.sid, "MessageStatus": status,
                      "SmsSid": message.sid, "SmsStatus": status, "To": message.to}
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if status in {"undelivered", "failed"} and message.final_error:
                params["ErrorCode"] = str(message.final_error)
            # Exactly Twilio's signature: HMAC-SHA1 over the URL and the sorted parameters.
            posts.append((params, validator.compute_signature(message.status_callback, params)))
        with self._cond:
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, daemon=True, name=f"fake-twilio-callback-{i}")
                                 for i in range(self.THREADS)]
                for thread in self._threads:
                    thread.start()
            self._seq += 1
            # Posted once the message leaves the sender's queue, as Twilio's "sent" is.
            leaves_in = max(message.sent_at - time.time(), 0.0)
            heapq.heappush(self._queue, (time.monotonic() + leaves_in + config.callback_delay, self._seq,
                                         message.status_callback, posts))
            self._cond.notify()

    def _run(self) -> None:
        session = requests.Session()
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._cond.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._closed:
                    return
                _, _, url, posts = heapq.heappop(self._queue)
            # One message's statuses in order, as Twilio sends them.
            for params, signature in posts:
                started = time.perf_counter()
                try:
                    ok = session.post(url, data=params, timeout=10,
                                      headers={"X-Twilio-Signature": signature}).status_code < 300
                except requests.RequestException:
                    ok = False
                took = time.perf_counter() - started
                with self._cond:
                    self._counts["posted" if ok else "failed"] += 1
                    self._round_trips.append(took)

    def counts(self) -> dict:
        with self._cond:
            return {"posted": self._counts["posted"], "failed": self._counts["failed"],
                    "waiting": len(self._queue)}

    def round_trips(self) -> dict:
        """The posts' round trips in milliseconds: how many were timed, p50, p99 and the longest."""
        with self._cond:
            taken = sorted(self._round_trips)
        return {"count": len(taken), "p50": _percentile_ms(taken, 0.50), "p99": _percentile_ms(taken, 0.99),
                "max": _percentile_ms(taken, 1.0)}

    def reset_counts(self) -> None:
        with self._cond:
            self._counts.clear()
            self._queue.clear()
            self._round_trips.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects
    disable_nagle_algorithm = True
    server: "_HttpServer"

    def log_message(self, format, *args) -> None:
        pass

    def _answer(self, answer: Answer) -> None:
        if answer.drop:
            self.close_connection = True
            return
        if answer.hold:
            # Accepted and recorded; the answer comes too late for the client.
            self.server.fake.release.wait(self.server.fake.config.hold_seconds)
            self.close_connection = True
        config = self.server.fake.config
        if config.delay_max > config.delay:
            time.sleep(random.uniform(config.delay, config.delay_max))
        elif config.delay:
            time.sleep(config.delay)
        body = b"" if answer.payload is None else json.dumps(answer.payload).encode()
        head = (f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Unknown')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"{'Connection: close' if self.close_connection else 'Connection: keep-alive'}\r\n\r\n")
        try:
            self.wfile.write(head.encode("latin-1") + body)
        except OSError:
            self.close_connection = True  # the client gave up (a read timeout)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        fake = self.server.fake
        with fake._lock:
            fake.requests += 1
        path = self.path.partition("?")[0]
        raw = self._read_body()
        match = MESSAGES_PATH.match(path)
        if match:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            self._answer(fake.create(account=match["account"], authorization=self.headers.get("Authorization", ""),
                                     form=form))
        elif path == "/_fake/reset":
            fake.reset()
            self._answer(Answer(200, {"reset": True}))
        elif path == "/_fake/config":
            try:
                fake.configure(fake.config.replace(**json.loads(raw or b"{}")))
            except (TypeError, ValueError) as exc:
                self._answer(Answer(400, {"error": str(exc)}))
                return
            self._answer(Answer(200, asdict(fake.config)))
        else:
            self._answer(fake.refusal("20404"))

    def do_GET(self) -> None:
        fake = self.server.fake
        with fake._lock:
            fake.requests += 1
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        authorization = self.headers.get("Authorization", "")
        if match := MESSAGES_PATH.match(parts.path):
            self._answer(fake.lookup(account=match["account"], authorization=authorization, query=query))
        elif match := MESSAGE_PATH.match(parts.path):
            self._answer(fake.fetch(account=match["account"], authorization=authorization, sid=match["sid"]))
        elif parts.path == "/_fake/stats":
            self._answer(Answer(200, fake.stats(summary=query.get("summary") in {"1", "true"})))
        elif parts.path == "/_fake/messages":
            self._answer(Answer(200, {"messages": fake.recorded()}))
        elif parts.path == "/_fake/config":
            self._answer(Answer(200, asdict(fake.config)))
        elif parts.path == "/_fake/health":
            self._answer(Answer(200, {"ok": True}))
        else:
            self._answer(fake.refusal("20404"))


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default of 5 refuses connections under a burst
    fake: FakeTwilio


class FakeTwilioServer:
    """The fake on a loopback port, served from a background thread.

        with FakeTwilioServer(FakeConfig(rate_limit=10)) as server:
            settings.TWILIO_API_URL = server.url
    """

    def __init__(self, config: FakeConfig | None = None, *, port: int = 0) -> None:
        self.fake = FakeTwilio(config)
        self._httpd = _HttpServer((HOST, port), _Handler)
        self._httpd.fake = self.fake
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> "FakeTwilioServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="fake-twilio")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        self.fake.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> "FakeTwilioServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FakeTwilioClient:
    """Talks to a fake running elsewhere (another process) through its /_fake endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, path: str, payload: dict | None = None, *, method: str = "GET") -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self, *, summary: bool = False) -> dict:
        return self._call("/_fake/stats" + ("?summary=1" if summary else ""))

    def messages(self) -> list[dict]:
        return self._call("/_fake/messages")["messages"]

    def reset(self) -> None:
        self._call("/_fake/reset", {}, method="POST")

    def configure(self, **changes) -> dict:
        return self._call("/_fake/config", changes, method="POST")

    def healthy(self) -> bool:
        try:
            return bool(self._call("/_fake/health").get("ok"))
        except OSError:
            return False


def provider_settings(url: str) -> dict[str, str]:
    """The service's settings that send its texts through the fake at ``url``, with the fake's
    credentials: for a process's environment, or for ``override_settings`` in this one."""
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_API_URL": url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": SENDER,
        "TWILIO_MESSAGING_SERVICE_SID": "",
    }


def _mix(text: str) -> dict[str, float]:
    """``500=0.01,timeout=0.005`` -> {"500": 0.01, "timeout": 0.005}."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        outcome, _, probability = part.partition("=")
        mix[outcome.strip()] = float(probability)
    return mix


def _delay(text: str) -> tuple[float, float]:
    """``0.2`` -> (0.2, 0.2); ``0.15-0.25`` -> (0.15, 0.25)."""
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.fakes.twilio",
                                     description="A Twilio-compatible fake of the Messages API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--delay", type=_delay, default=(0.0, 0.0),
                        help="seconds before each answer, or a range for jitter: 0.15-0.25")
    parser.add_argument("--errors", type=_mix, default={}, help="e.g. 500=0.01,429=0.01,drop=0.005,21211=0.01")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds a 'timeout' answer is held")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="messages per second per sender; 0: none")
    parser.add_argument("--rate-burst", type=float, default=1.0, help="tokens in the per-sender bucket")
    parser.add_argument("--callbacks", default="", help="status words to post back, e.g. sent,delivered")
    parser.add_argument("--callback-delay", type=float, default=0.0)
    parser.add_argument("--segment-rate", type=float, default=0.0,
                        help="segments per second per sender, queueing the rest (Twilio's queue); 0: none")
    parser.add_argument("--queue-seconds", type=float, default=36_000.0,
                        help="longest a text may wait in a sender's queue before 21611 refuses it")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    config = FakeConfig(
        account_sid=args.account_sid, auth_token=args.auth_token, delay=args.delay[0], delay_max=args.delay[1],
        segment_rate=args.segment_rate, queue_seconds=args.queue_seconds, errors=args.errors,
        hold_seconds=args.hold, rate_limit=args.rate_limit, rate_burst=args.rate_burst,
        callbacks=[s for s in args.callbacks.split(",") if s], callback_delay=args.callback_delay, seed=args.seed,
    )
    server = FakeTwilioServer(config, port=args.port)

    def stop(signum, frame):
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake twilio listening on {server.url}", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
