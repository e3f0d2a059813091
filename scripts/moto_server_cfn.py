#!/usr/bin/env python3
"""moto_server, plus CloudFormation support for the two resource types of template.yaml that
moto's CloudFormation lacks: AWS::SecretsManager::Secret and AWS::CloudWatch::Alarm.

    python scripts/moto_server_cfn.py -H 127.0.0.1 -p 5000     (moto_server's own arguments)

Without this, moto's CloudFormation skips both types (a warning in its log) and a `Ref` to a
skipped secret resolves to nothing. Here each one is made through moto's own Secrets Manager and
CloudWatch backends, with the properties as CloudFormation resolved them, so that
scripts/deploy-check reads them back through the real APIs (`get_secret_value`,
`describe_alarms`) like any other resource. `Ref` gives a secret's ARN and an alarm's name, as
in AWS. Run it with .tools/venv/bin/python.
"""

import sys
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import main


class CfnSecret(CloudFormationModel):
    """AWS::SecretsManager::Secret: Name (or the generated name), SecretString, KmsKeyId."""

    # moto files each model under the service its module names.
    __module__ = "moto.secretsmanager.deploy_check"

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id",)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnSecret":
        props = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        backend.create_secret(
            name=resource_name,
            secret_string=props.get("SecretString"),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        secret = backend.describe_secret(resource_name)
        return cls(secret.arn, secret.name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str,
        region_name: str,
    ) -> "CfnSecret":
        # A new SecretString becomes AWSCURRENT, the old one AWSPREVIOUS (as in AWS).
        props = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        backend.put_secret_value(
            secret_id=original_resource.arn, secret_string=props.get("SecretString"), secret_binary=None,
            client_request_token=None, version_stages=["AWSCURRENT"],
        )
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(secret_id=resource_name, recovery_window_in_days=None,
                              force_delete_without_recovery=True)

    @property
    def physical_resource_id(self) -> str:
        return self.arn


class CfnAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm on one metric (Namespace, MetricName, Dimensions, Statistic)."""

    __module__ = "moto.cloudwatch.deploy_check"

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn",)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnAlarm":
        p = cloudformation_json.get("Properties", {})
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=resource_name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p.get("ComparisonOperator"),
            evaluation_periods=int(p.get("EvaluationPeriods")),
            period=int(p.get("Period")),
            threshold=float(p.get("Threshold")),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions") or [],
            alarm_actions=p.get("AlarmActions") or [],
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(resource_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str,
        region_name: str,
    ) -> "CfnAlarm":
        cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    @property
    def physical_resource_id(self) -> str:
        return self.name


if __name__ == "__main__":
    main(sys.argv[1:])
