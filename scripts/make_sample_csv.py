"""Write synthetic movies.csv / series.csv in the real files' schema.

The real files (IMDb-derived, one row per title x artist) are pipe-delimited, UTF-8,
``\\N`` for nulls, with the header names below (``tituloPincipal`` typo included).
Usage::

    python scripts/make_sample_csv.py movies data/movies.csv --rows 3000
    python scripts/make_sample_csv.py series data/series.csv --rows 2000 --seed 2
    python scripts/make_sample_csv.py movies /tmp/big.csv --target-bytes 1000000000
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

MOVIES_HEADER = (
    "id|tituloPincipal|tituloOriginal|anoLancamento|tempoMinutos|genero|notaMedia|numeroVotos|"
    "generoArtista|personagem|nomeArtista|anoNascimento|anoFalecimento|profissao|"
    "titulosMaisConhecidos"
)
SERIES_HEADER = (
    "id|tituloPincipal|tituloOriginal|anoLancamento|anoTermino|tempoMinutos|genero|notaMedia|"
    "numeroVotos|generoArtista|personagem|nomeArtista|anoNascimento|anoFalecimento|profissao|"
    "titulosMaisConhecidos"
)
N = "\\N"
_WORDS = (
    "O Poderoso Chefão",
    "Cidade de Deus",
    "Tropa de Elite",
    "Apocalypse Now",
    "A Lista de Schindler",
    "Bastardos Inglórios",
    "O Resgate do Soldado Ryan",
    "Pulp Fiction",
    "Os Infiltrados",
    "Coração Valente",
    "Dunkirk",
    "1917",
    "Zodíaco",
    "Fargo",
    "Heat",
    "Scarface",
    "Ran",
    "Nada de Novo no Front",
    "Platoon",
    "O Irlandês",
    "Cães de Aluguel",
    "Gomorra",
)
_GENRES = ("Crime", "War", "Drama", "Action", "Thriller", "History", "Comedy", "Romance")
_FIRST = ("José", "María", "João", "Zoë", "François", "Ånders", "Kenji", "Chloé", "Raúl", "Björk")
_LAST = ("da Silva", "Müller", "Núñez", "O'Brien", "Łukasz", "Søren", "Kowalski", "Dupré")
_ROLES = ("actor", "actress", "director", "writer", "producer")


def _row(kind: str, i: int, rng: random.Random) -> str:
    title_no = i // rng.randint(2, 6) + 1  # several artists per title: titles repeat
    title = _WORDS[title_no % len(_WORDS)] + ("" if title_no < len(_WORDS) else f" {title_no}")
    original = title if rng.random() < 0.7 else title.upper()
    year = rng.randint(1920, 2023)
    genres = ",".join(rng.sample(_GENRES, rng.randint(1, 3)))
    rating = f"{rng.uniform(1, 10):.1f}"
    votes = str(rng.randint(5, 2_000_000))
    sex = rng.choice("MF")
    role = rng.choice(_ROLES)
    character = N if role not in ("actor", "actress") else rng.choice(_FIRST)
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    born = str(rng.randint(1890, 2005)) if rng.random() < 0.8 else N
    died = str(rng.randint(1950, 2023)) if born != N and rng.random() < 0.2 else N
    known = ",".join(f"tt{rng.randint(1, 9_999_999):07d}" for _ in range(rng.randint(1, 4)))
    minutes = str(rng.randint(60, 200)) if rng.random() < 0.9 else N
    tid = f"tt{title_no:07d}"
    if kind == "movies":
        fields = [
            tid,
            title,
            original,
            str(year),
            minutes,
            genres,
            rating,
            votes,
            sex,
            character,
            name,
            born,
            died,
            role,
            known,
        ]
    else:
        end = str(year + rng.randint(0, 10)) if rng.random() < 0.6 else N
        fields = [
            tid,
            title,
            original,
            str(year),
            end,
            minutes,
            genres,
            rating,
            votes,
            sex,
            character,
            name,
            born,
            died,
            role,
            known,
        ]
    return "|".join(fields)


def write_sample(kind: str, out: Path, *, rows: int, seed: int = 1, target_bytes: int = 0) -> int:
    """Write the file; return the number of data rows. ``target_bytes`` overrides ``rows``."""
    rng = random.Random(seed)
    header = MOVIES_HEADER if kind == "movies" else SERIES_HEADER
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    size = 0
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(header + "\n")
        lines: list[str] = []
        while (target_bytes and size < target_bytes) or (not target_bytes and written < rows):
            line = _row(kind, written, rng) + "\n"
            lines.append(line)
            size += len(line.encode())
            written += 1
            if len(lines) >= 10_000:
                fh.write("".join(lines))
                lines.clear()
        fh.write("".join(lines))
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make_sample_csv.py", description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=("movies", "series"), help="which file's schema (15 or 16 columns)")
    p.add_argument("out", type=Path, help="the file to write (its folder is made)")
    p.add_argument("--rows", type=int, default=3000, help="data rows to write (default: %(default)s)")
    p.add_argument(
        "--target-bytes", type=int, default=0, help="write rows until the file is this big (overrides --rows)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed writes the same file")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    n = write_sample(args.kind, args.out, rows=args.rows, seed=args.seed, target_bytes=args.target_bytes)
    print(f"wrote {n} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
