"""Baseline: the seed project's stage 2, as its write-up describes it.

tmdbv3api (``TMDb``, ``Discover``, ``Movie``), one movie at a time: discover the genre's
movies by popularity, descending, page after page; for each movie ``Movie.details`` and
then ``Movie.keywords`` (two calls), inside a ``try`` that skips a movie on error; every
100 movies a JSON batch is put in the bucket with boto3. No sleeps (the seed had none);
tmdbv3api's own rate-limit handling is left as it is. The only change is where it points:
tmdbv3api hard-codes TMDB's address in each object's ``_base``, set here to the fake's.

usage: seed_crawl.py GENRE_ID BUCKET [MAX_MOVIES]
env: TMDB_BASE_URL, TMDB_API_KEY, AWS_ENDPOINT_URL (+ AWS credentials)
``MAX_MOVIES`` stops after that many movies (benchmark time budget; the seed crawled on).
"""

import json
import os
import sys
import time

import boto3
from tmdbv3api import Discover, Movie, TMDb

genre_id = int(sys.argv[1])
bucket = sys.argv[2]
max_movies = int(sys.argv[3]) if len(sys.argv) > 3 else None

tmdb = TMDb()
tmdb.api_key = os.environ["TMDB_API_KEY"]
tmdb.language = "en-US"
movie = Movie()
discover = Discover()
for obj in (movie, discover):
    obj._base = os.environ["TMDB_BASE_URL"].rstrip("/") + "/3"

s3 = boto3.client("s3")
date_path = time.strftime("%Y/%m/%d")

started = time.monotonic()
batch: list[dict[str, object]] = []
batch_size = 100
file_no = 1
page = 1
done = 0
errors = 0
total_pages = 1
while page <= min(total_pages, 500) and (max_movies is None or done < max_movies):
    results = discover.discover_movies({"with_genres": genre_id, "sort_by": "popularity.desc", "page": page})
    total_pages = int(tmdb.total_pages)
    for found in results:
        if max_movies is not None and done >= max_movies:
            break
        try:
            details = movie.details(found.id)
            keywords = movie.keywords(found.id)
            record = dict(details._json)
            record["keywords"] = [k.name for k in keywords]
            batch.append(record)
        except Exception as exc:  # the seed's try: log and go on to the next movie
            errors += 1
            print(f"movie {found.id}: {exc}", file=sys.stderr)
        done += 1
        if len(batch) == batch_size:
            s3.put_object(
                Bucket=bucket,
                Key=f"Raw/TMDB/JSON/Movies/{date_path}/crime-{file_no:05d}.json",
                Body=json.dumps(batch, ensure_ascii=False).encode(),
            )
            batch = []
            file_no += 1
    page += 1
if batch:
    s3.put_object(
        Bucket=bucket,
        Key=f"Raw/TMDB/JSON/Movies/{date_path}/crime-{file_no:05d}.json",
        Body=json.dumps(batch, ensure_ascii=False).encode(),
    )
seconds = time.monotonic() - started
print(
    json.dumps(
        {
            "movies": done,
            "errors": errors,
            "seconds": round(seconds, 3),
            "movies_per_s": round(done / seconds, 3),
        }
    )
)
