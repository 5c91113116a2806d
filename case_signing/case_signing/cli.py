"""``case-signing`` (``python -m case_signing``): sign, verify and make keys from the command line.

    python -m case_signing keygen .keys                       # a development key pair
    python -m case_signing verify-wheel dist/case_model-1.2.0-py3-none-any.whl
    python -m case_signing verify-installed                   # the package `import case_model` loads
    python -m case_signing verify-dir DIR                      # an artifact directory (--model-dir)

The public key comes from ``--public-key`` or ``$MODEL_SIGNING_PUBLIC_KEY``. Exit 0: verified;
exit 3: refused, with the reason on stderr; exit 2: bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from case_signing.keys import generate_key_pair
from case_signing.signature import ProvenanceError, verify_directory, verify_installed, verify_wheel


def main(argv: list[str] | None = None) -> int:
    """Run one command; see the module docstring."""
    parser = argparse.ArgumentParser(prog="case-signing", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="write a new P-256 key pair (development and tests)")
    keygen.add_argument("directory", type=Path)
    for name, target in (("verify-wheel", "wheel"), ("verify-dir", "directory")):
        command = commands.add_parser(name, help=f"verify a model {target}")
        command.add_argument("path", type=Path)
        command.add_argument("--public-key", type=Path)
    installed = commands.add_parser("verify-installed", help="verify the installed case_model package")
    installed.add_argument("--public-key", type=Path)
    args = parser.parse_args(argv)
    if args.command == "keygen":
        private, public = generate_key_pair(args.directory)
        print(f"wrote {private} (keep it secret) and {public}")
        return 0
    try:
        if args.command == "verify-wheel":
            verify_wheel(args.path, args.public_key)
        elif args.command == "verify-dir":
            verify_directory(args.path, args.public_key)
        else:
            args.path = verify_installed(args.public_key)
    except ProvenanceError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 3
    print(f"{args.path}: signature verified")
    return 0
