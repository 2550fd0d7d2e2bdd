"""`datasmith score` (placeholder until the dataset issue lands)."""

import argparse


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="warehouse file")


def run_score(args: argparse.Namespace) -> int:
    print("datasmith score: not available yet")
    return 2
