from __future__ import annotations

import argparse
from typing import TextIO

NAME = "keygen"
HELP = "Make an Ed25519 key pair for signing exports."
EXAMPLE = "example: archive keygen --out archive-signing    (writes archive-signing.key and archive-signing.pub)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="archive-signing", metavar="PREFIX",
                        help="file name prefix (default archive-signing)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.export.signing import key_fingerprint, keygen, load_public_key

    key, pub = keygen(args.out)
    print(f"private key: {key} (keep it secret; mode 600)", file=out)
    print(f"public key:  {pub} (publish it, so others can check your signatures: "
          f"`archive verify --key {pub.name} DATASET`)", file=out)
    print(f"fingerprint: {key_fingerprint(load_public_key(pub))} (verify names a signer by it)", file=out)
    return 0
