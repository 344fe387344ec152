"""Who is calling: the account of the signing key and the region of its signature.

Every resource lives in one account and region (both are in its ARN). A caller sees only its own:
an ARN of another account is refused as AWS's IAM refuses it (AccessDeniedException), an ARN of
another region does not exist at this caller's regional endpoint (ResourceNotFoundException).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpersonalize.errors import AccessDenied, ResourceNotFound

DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Scope:
    """The caller's partition, region and account: where its ARNs are minted and looked up."""

    region: str
    account: str
    partition: str = "aws"
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", f"arn:{self.partition}:personalize:{self.region}:{self.account}:")

    def arn(self, segment: str, *path: str) -> str:
        return f"{self.prefix}{segment}/" + "/".join(path)

    def owns(self, arn: str) -> bool:
        return arn.startswith(self.prefix)

    def check(self, arn: str, action: str) -> None:
        """Raise the error AWS gives for an ARN outside this scope (nothing for one inside it)."""
        if arn.startswith(self.prefix):
            return
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4] and parts[4] != self.account:
            raise AccessDenied(
                f"User: arn:{self.partition}:iam::{self.account}:root is not authorized to perform: "
                f"personalize:{action} on resource: {arn} because no resource-based policy allows "
                f"the personalize:{action} action"
            )
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
