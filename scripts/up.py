"""``python3 dev.py up``: the whole local world, until Ctrl-C.

Starts the TMDB stand-in and an S3 + SQS endpoint (LocalStack 4.14.0 from
``scripts/localstack.py``, or moto's server with ``--moto``), makes the bucket and the
batch queue with its dead-letter queue (as ``deploy/localstack/init-*.sh`` do, through
boto3 here, so no ``aws`` CLI is needed), then prints the ``export`` lines that point the
pipeline at them on stdout, and what it started on stderr. On SIGINT or SIGTERM it stops
everything it started and exits 0.

Run by ``dev.py up`` with the project's virtualenv (it needs boto3, and moto for
``--moto``). The exports are plain ``export NAME=value`` lines, one a line, so that
``eval "$(...)"`` or a paste works, and a program can read them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ingest.standin import StandinFailed, standin_process  # noqa: E402
from scripts import localstack  # noqa: E402

# The names deploy/localstack/init-s3.sh and init-sqs.sh give them, and their settings.
BUCKET = "movies-lake"
QUEUE = "movies-lake-batches"
MAX_RECEIVES = 5
VISIBILITY_S = 120
# Not secrets: LocalStack and moto take any key; these are what their docs use.
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 dev.py up",
        description=(
            "Start the TMDB stand-in and a local S3 + SQS (LocalStack 4.14.0, or moto with --moto), "
            f"make the bucket {BUCKET} and the queue {QUEUE}, print the export lines that point "
            "python -m ingest and python -m workers at them, and run until Ctrl-C."
        ),
    )
    p.add_argument(
        "--moto", action="store_true", help="moto's server instead of LocalStack (seconds to start)"
    )
    p.add_argument(
        "--aws-port", type=int, default=4566, help="S3/SQS port (default %(default)s; 0: any free)"
    )
    p.add_argument(
        "--tmdb-port", type=int, default=8765, help="stand-in port (default %(default)s; 0: any free)"
    )
    p.add_argument("--crime", type=int, default=600, help="stand-in movies in Crime (default %(default)s)")
    p.add_argument("--war", type=int, default=300, help="stand-in movies in War (default %(default)s)")
    return p


@contextlib.contextmanager
def moto_server(port: int) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # Its access log would bury the exports.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.stop()


def make_bucket_and_queue(endpoint: str) -> str:
    """The bucket and the queue with its dead-letter queue (kept if they exist); the queue URL."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=AWS_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS_KEYS["AWS_DEFAULT_REGION"],
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
    sqs = session.client("sqs", endpoint_url=endpoint)
    dead_url = sqs.create_queue(QueueName=f"{QUEUE}-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = f'{{"deadLetterTargetArn":"{dead_arn}","maxReceiveCount":"{MAX_RECEIVES}"}}'
    attributes = {"VisibilityTimeout": str(VISIBILITY_S), "RedrivePolicy": redrive}
    return str(sqs.create_queue(QueueName=QUEUE, Attributes=attributes)["QueueUrl"])


def aws_endpoint(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
    if args.moto:
        return moto_server(args.aws_port)
    if not localstack.installed():
        say(f"installing {localstack.WHAT}")
    localstack.ensure_venv()
    return localstack.serve(port=args.aws_port)


def say(text: str) -> None:
    print(f"dev.py up: {text}", file=sys.stderr, flush=True)


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def busy(port: int) -> bool:
    """Whether loopback ``port`` is taken (0 never is: it means any free one)."""
    if not port:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag, port in (("--aws-port", args.aws_port), ("--tmdb-port", args.tmdb_port)):
        if busy(port):
            say(f"port {port} is in use (another dev.py up?): stop that, or pass {flag} 0 for any free port")
            return 2
    signal.signal(signal.SIGTERM, _stop)
    # "Ctrl-C here stops it all" holds even when started with SIGINT ignored (a shell's
    # background job without job control), which Python would otherwise leave ignored.
    signal.signal(signal.SIGINT, _stop)
    try:
        with contextlib.ExitStack() as stack:
            say("starting " + ("moto" if args.moto else "LocalStack 4.14.0") + " and the TMDB stand-in")
            endpoint = stack.enter_context(aws_endpoint(args))
            standin = stack.enter_context(
                standin_process(
                    "--crime", str(args.crime), "--war", str(args.war), "--port", str(args.tmdb_port)
                )
            )
            queue_url = make_bucket_and_queue(endpoint)
            exports = {
                "AWS_ENDPOINT_URL": endpoint,
                **AWS_KEYS,
                "INGEST_LAKE": f"s3://{BUCKET}",
                "INGEST_QUEUE_URL": queue_url,
                "TMDB_BASE_URL": standin.url,
                "TMDB_READ_ACCESS_TOKEN": standin.token,
            }
            print("\n".join(f"export {k}={v}" for k, v in exports.items()), flush=True)
            say(f"S3 and SQS at {endpoint} (bucket {BUCKET}, queue {QUEUE}), TMDB stand-in at {standin.url}")
            say("paste the export lines above into another shell; Ctrl-C here stops it all")
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    except localstack.LocalStackUnavailable as exc:
        say(f"cannot start LocalStack: {exc}; python3 dev.py up --moto needs no LocalStack")
        return 1
    except (StandinFailed, OSError) as exc:
        say(f"cannot start: {exc}")
        return 1
    say("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
