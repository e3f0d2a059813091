#!/usr/bin/env python3
"""Expand the AWS::Serverless transform of a (packaged) SAM template into plain CloudFormation.

    python scripts/expand_sam.py packaged.yaml expanded.json

CloudFormation expands the transform server-side; a local moto server cannot, so
scripts/deploy-check expands it here with samtranslator (the library behind the real transform,
installed with aws-sam-cli) and deploys the result. Run it with .tools/venv/bin/python.
Parameter values are left to the deploy: intrinsics stay in the output.
"""

import json
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, target = argv[1], argv[2]
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # Only consulted for managed policies given by name (this template has none); it then talks
    # to whatever AWS_ENDPOINT_URL points at.
    loader = ManagedPolicyLoader(boto3.client("iam"))
    try:
        expanded = transform(template, {}, loader)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{source}: {cause.message}", file=sys.stderr)
        return 1
    with open(target, "w", encoding="utf-8") as f:
        json.dump(expanded, f, indent=2, sort_keys=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
