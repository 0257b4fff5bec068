"""The analyst questions answered as pictures: ``python -m ingest.answers --lake DIR --out DIR``.

Runs the DuckDB spelling of each question of docs/queries.md (``queries``) on a lake
directory, draws one PNG chart per question from the rows it returned (``charts``), and
writes a Markdown page that shows them with their numbers (``page``). DuckDB and
matplotlib are the ``answers`` extra (``pip install -e '.[answers]'``), not dependencies
of the pipeline.
"""
