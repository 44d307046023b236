"""CKV_TFK_1: every terraform_data resource names its owner in its tags (who to call at 3 a.m.)."""

from __future__ import annotations

from typing import Any

from tfk_values import field

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class OwnerTag(BaseResourceCheck):
    """Fails a terraform_data whose input.tags has no non-empty owner."""

    def __init__(self) -> None:
        super().__init__(
            name="terraform_data carries an owner tag",
            id="CKV_TFK_1",
            categories=[CheckCategories.CONVENTION],
            supported_resources=["terraform_data"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        owner = field(conf, "input", "tags", "owner")
        return CheckResult.PASSED if isinstance(owner, str) and owner.strip() else CheckResult.FAILED


check = OwnerTag()
