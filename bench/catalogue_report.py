"""bench/CATALOGUE.md: the whole-catalogue runs' figures as measured, then the cost table.

The cost table turns the largest measured requests-per-movie into hours for a full pass
and for a day at 40 requests/s on 1, 4 and 16 egress IPs, and counts the S3 and SQS
requests a day from what the code does per batch (said beside the table).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

# The stand-in's day, as the issue has it: 3% of the movies change, 1% are added, 0.2% go.
CHURN = {"changed": 0.03, "added": 0.01, "removed": 0.002}


def cost_table(results: list[dict[str, Any]], rate: float = 40.0) -> list[str]:
    measured = [
        r["pass"]["requests_per_movie"] for r in results if r.get("pass", {}).get("requests_per_movie")
    ]
    per_movie = float(max(measured)) if measured else 1.0
    full, day = 1_100_000, int(1_100_000 * (CHURN["changed"] + CHURN["added"]))
    lines = [
        f"At {rate:g} requests/s per egress IP, {per_movie:.4f} requests per movie (the largest measured above):",
        "",
        "| work | movies | 1 IP | 4 IPs | 16 IPs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    # The changes window starts on the snapshot's own day, so a day also refetches what the
    # snapshot day changed (TMDB's feed has no times to tell before the fetch from after).
    overlap = day + int(1_100_000 * CHURN["changed"])
    rows = (
        ("full pass (1.1M)", full),
        ("a day at 3% changed + 1% new", day),
        ("the same day, with the snapshot day's changes read again", overlap),
    )
    for label, movies in rows:
        hours = [movies * per_movie / (rate * ips) / 3600 for ips in (1, 4, 16)]
        lines.append(f"| {label} | {movies:,} | " + " | ".join(f"{h:.2f} h" for h in hours) + " |")
    batches, day_batches = full // 100, day // 100
    chunks = -(-full // 10_000)
    # What the code does per batch (ingest.tmdb.sink, ingest.queue.catalogue, ingest.queue.consumer).
    s3_full = batches * 2 + chunks + 1 + 2 * (batches // 1000 + 1)
    s3_day = day_batches * 2 + 2 * chunks + 2 + 2 * (batches // 1000 + 1) + 110
    s3_queue = batches * (2 + 1 + 1 + 1 + 1 + 1)
    sqs_queue = batches // 10 + batches + batches + batches
    lines += [
        "",
        "| requests a day | full pass, one-shot | a day (incremental), one-shot | full pass on the queue |",
        "| --- | ---: | ---: | ---: |",
        f"| S3 (PUT + LIST + GET) | {s3_full:,} | {s3_day:,} | {s3_full + s3_queue:,} |",
        f"| SQS | 0 | 0 | {sqs_queue:,} |",
        "",
        "S3, one-shot: two PUTs a batch (its file, its done-marker), the plan's chunks and header, two listings",
        "of 1,000 keys a page (markers, files) at the start; an incremental day also writes the snapshot's",
        "member chunks and reads the previous day's. On the queue each batch also costs a GET of the header",
        "and of its chunk, a LIST of its own markers, a HEAD of its first file, a LIST of its hundred and,",
        "now and then, a PUT and a LIST of the hundreds. SQS: 1 SendMessageBatch per 10 batches, then per",
        "batch at least one ReceiveMessage (up to 10 a call when the queue is deep), one DeleteMessage and",
        "one ChangeMessageVisibility (renewal) for a batch that outlives its visibility: counted from the code,",
        "not measured. At list prices (S3 $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET; SQS $0.40 per",
        "million) a full pass on the queue is well under a dollar of requests.",
    ]
    return lines


def write(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    body = [
        "# The whole catalogue: bench/catalogue.py",
        "",
        f"`{' '.join(sys.argv)}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, rate ceiling "
        f"{args.rate:g} req/s, concurrency {args.concurrency}, S3 on moto, SQS on {args.sqs}, on a machine shared "
        "with other jobs (2 cores).",
        "",
        "```json",
        json.dumps(results, indent=1),
        "```",
        "",
        *cost_table(results),
        "",
    ]
    args.out.write_text("\n".join(body))
