"""CKV_TFK_2: no access rule opens SSH (port 22) to the whole internet (0.0.0.0/0 or ::/0)."""

from __future__ import annotations

from typing import Any

from tfk_values import field

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

_ANYWHERE = {"0.0.0.0/0", "::/0"}


class SshOpenToWorld(BaseResourceCheck):
    """Fails an access rule (terraform_data with input.port and input.cidr) for port 22 from anywhere."""

    def __init__(self) -> None:
        super().__init__(
            name="Access rule does not open port 22 to 0.0.0.0/0",
            id="CKV_TFK_2",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["terraform_data"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        port = field(conf, "input", "port")
        cidr = field(conf, "input", "cidr")
        if port is None or cidr is None:
            return CheckResult.UNKNOWN  # not an access rule
        if str(port) == "22" and str(cidr) in _ANYWHERE:
            return CheckResult.FAILED
        return CheckResult.PASSED


check = SshOpenToWorld()
