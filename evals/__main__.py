import argparse
import sys

from evals.run import main

parser = argparse.ArgumentParser(prog="python -m evals")
parser.add_argument("--qa", default=None)
parser.add_argument("--out", default=None)
parser.add_argument("--baseline", action="store_true")
parser.add_argument("--thresholds", default=None)
args = parser.parse_args()
sys.exit(main(args.qa, args.out, args.baseline, args.thresholds))
