"""Fan-out on Amazon SQS: one message per batch of a frozen plan.

- ``messages``: what a message says (a batch of a plan) and its one wire format;
- ``sqs``: the queue itself (send in tens, receive with long polling, renew, delete);
- ``enqueue``: ``python -m ingest ... --enqueue``, plan and send (genres and catalogue);
- ``catalogue``: the catalogue's enqueue and a worker's step for its messages;
- ``work``: fetch the batch one message names (the worker, the Lambda);
- ``consumer``: ``python -m workers --queue``, the polling loop around ``work``;
- ``lambda_sqs``: the Lambda's SQS event, batch by batch; ``counters``: the consumer's counts.
"""
