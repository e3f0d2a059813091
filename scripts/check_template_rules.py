#!/usr/bin/env python3
"""Checks template.yaml's Rules against what its functions would be given, for every
combination of the secret and apps parameters.

    python scripts/check_template_rules.py template.yaml

For each combination it evaluates the Rules as CloudFormation does (refused, with the
AssertDescription of each failed assertion) and, independently, resolves the Conditions and the
functions' environment variables and created secrets, then decides from those alone whether the
stack could start and keep every secret out of the environment:

- the webhook function has exactly one non-empty source for the app secret
  (SOKETI_SECRET, SOKETI_SECRET_ARN, SOKETI_SECRET_PARAMETER);
- with SqsDelivery, the delivery function has exactly one apps source
  (SOKETI_APPS_SECRET_ARN, SOKETI_APPS_PARAMETER, SOKETI_APPS_JSON), or is one app with
  SOKETI_APP_ID, SOKETI_APP_KEY, SOKETI_WEBHOOK_FUNCTION and exactly one secret source;
- every secret or store parameter given is used somewhere (no value silently ignored);
- with a store other than "parameter", no environment variable holds a secret value.

A combination must be refused by the Rules exactly when it fails that, and each refusal must
name a parameter to set. Prints one "ok"/"not ok" line per finding (at most ten failures
written out) and a total; exits 1 on any failure. Run it with .tools/venv/bin/python.
"""

import itertools
import sys

from samtranslator.yaml_helper import yaml_parse

NOVALUE = object()
SECRET_PARAMS = ("SoketiAppSecret", "SoketiPreviousSecret", "SoketiAppsJson")


class Resolver:
    def __init__(self, template, params):
        self.template = template
        self.params = params
        self.conds = {}

    def condition(self, name):
        if name not in self.conds:
            self.conds[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conds[name]

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NOVALUE
                if arg in self.params:
                    return self.params[arg]
                return f"<{arg}>"  # a resource (its ARN, URL or name) or a pseudo parameter
            if key == "Fn::GetAtt":
                return f"<{arg[0] if isinstance(arg, list) else arg.split('.')[0]}>"
            if key == "Fn::Sub":
                return f"<sub {arg if isinstance(arg, str) else arg[0]}>"
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(x) for x in arg)
            if key == "Fn::Or":
                return any(self.value(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NOVALUE}

    def present(self, logical_id):
        cond = self.template["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def env(self, logical_id):
        if not self.present(logical_id):
            return None
        props = self.template["Resources"][logical_id]["Properties"]
        variables = self.value(props.get("Environment", {}).get("Variables", {}))
        return {k: v for k, v in variables.items() if v is not NOVALUE}


def refusals(template, params):
    """The AssertDescriptions of the failed assertions, as CloudFormation checks Rules."""
    r = Resolver(template, params)
    out = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not r.value(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not r.value(assertion["Assert"]):
                out.append(assertion["AssertDescription"])
    return out


def problems(template, params):
    """Why the stack as resolved could not start, would ignore a value, or leaks a secret."""
    r = Resolver(template, params)
    found = []
    given = lambda v: v not in ("", "-")  # noqa: E731
    webhook = r.env("WebhookFunction")
    sources = [k for k in ("SOKETI_SECRET", "SOKETI_SECRET_ARN", "SOKETI_SECRET_PARAMETER")
               if given(webhook.get(k, ""))]
    if len(sources) != 1:
        found.append(f"webhook function has secret sources {sources}")
    delivery = r.env("DeliveryFunction")
    if delivery is not None:
        apps = [k for k in ("SOKETI_APPS_SECRET_ARN", "SOKETI_APPS_PARAMETER", "SOKETI_APPS_JSON")
                if given(delivery.get(k, ""))]
        one_app = [k for k in ("SOKETI_SECRET", "SOKETI_SECRET_ARN", "SOKETI_SECRET_PARAMETER")
                   if given(delivery.get(k, ""))]
        if apps:
            if len(apps) != 1 or one_app:
                found.append(f"delivery function has apps sources {apps} and secret sources {one_app}")
        elif not (len(one_app) == 1 and all(given(delivery.get(k, ""))
                                            for k in ("SOKETI_APP_ID", "SOKETI_APP_KEY", "SOKETI_WEBHOOK_FUNCTION"))):
            found.append(f"delivery function has no apps and one-app settings {sorted(delivery)}")
        if not given(delivery.get("SOKETI_DEAD_LETTER_QUEUE_URL", "")):
            found.append("delivery function has no SOKETI_DEAD_LETTER_QUEUE_URL")
    # Where each given value ends up: an environment variable or a created secret.
    used = [v for e in (webhook, delivery or {}) for v in e.values()]
    for logical_id, res in template["Resources"].items():
        if res["Type"] == "AWS::SecretsManager::Secret" and r.present(logical_id):
            used.append(r.value(res["Properties"]["SecretString"]))
    for name in ("SoketiAppSecret", "SoketiSecretArn", "SoketiSecretParameter", "SoketiPreviousSecret",
                 "SoketiAppsJson", "SoketiAppsSecretArn", "SoketiAppsParameter"):
        if given(params[name]) and params[name] not in used:
            found.append(f"{name} is given but not used")
    if params["SecretStore"] != "parameter":
        leaked = [k for e in (webhook, delivery or {}) for k, v in e.items()
                  if any(given(params[p]) and v == params[p] for p in SECRET_PARAMS)]
        if leaked:
            found.append(f"a secret in the environment: {leaked}")
    return found


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    choices = {
        "SecretStore": ["create", "secrets-manager", "ssm", "parameter"],
        "SoketiAppSecret": ["", "-", "the-app-secret"],
        "SoketiSecretArn": ["", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf"],
        "SoketiSecretParameter": ["", "/soketi/secret"],
        "SoketiPreviousSecret": ["", "-", "the-old-secret"],
        "SqsDelivery": ["true", "false"],
        "SoketiAppsJson": ["", "-", '[{"id":"a","key":"k","secret":"s","webhooks":[]}]'],
        "SoketiAppsSecretArn": ["", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apps-AbCdEf"],
        "SoketiAppsParameter": ["", "/soketi/apps"],
    }
    missing = set(choices) - set(template["Parameters"])
    if missing:
        print(f"not ok the template has no parameter {sorted(missing)}")
        return 1
    total = accepted = 0
    failures = []
    for values in itertools.product(*choices.values()):
        params = dict(defaults, SoketiAppKey="app-key", **dict(zip(choices, values)))
        total += 1
        refused = refusals(template, params)
        wrong = problems(template, params)
        shown = {k: params[k] for k in choices if params[k] != ""}
        if refused and wrong:
            if not all(any(p in d for p in template["Parameters"]) for d in refused):
                failures.append(f"a refusal names no parameter: {refused} for {shown}")
        elif refused:
            failures.append(f"refused but would work: {refused} for {shown}")
        elif wrong:
            failures.append(f"accepted but {wrong} for {shown}")
        else:
            accepted += 1
    ok = not failures
    print(("ok     " if ok else "not ok ")
          + f"Rules: of {total} combinations of the secret and apps parameters, the {accepted} accepted"
          " start with one secret source per function, use every value given and keep secrets out of"
          " the environment with a store; each of the others is refused naming what to set")
    for line in failures[:10]:
        print(f"    {line}")
    if len(failures) > 10:
        print(f"    ... and {len(failures) - 10} more")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
