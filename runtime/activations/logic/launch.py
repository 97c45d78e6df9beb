"""The "Launch stack" link of the current release: CloudFormation's quick-create URL with the
published customer template (AWS docs: "Creating quick-create links for stacks",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-create-stacks-quick-create-links.html).

The release record (written by `customer_stack/publish.py`) names the template's bucket, key and
version; the template bucket is private, so the link carries a short-lived presigned URL of that
exact version, made when the customer asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from activations.dal.releases import ReleaseStore
from activations.logic.errors import ReleaseUnavailable
from shared.timestamps import format_timestamp

LINK_SECONDS = 3600  # CloudFormation reads the template when the console opens the link


def quick_create_url(region: str, template_url: str, stack_name: str) -> str:
    template = quote(template_url, safe="")
    return (
        f"https://console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/quickcreate?templateURL={template}&stackName={quote(stack_name, safe='')}"
    )


def launch_link(
    releases: ReleaseStore,
    presign: Callable[[str, str, str, int], str],
    *,
    product: str,
    region: str,
    now: datetime,
) -> dict[str, str]:
    """`{"version", "launch_url", "expires_at"}`; 503 ReleaseUnavailable when nothing is published."""
    release = releases.current(product)
    template = (release.template if release else None) or {}
    if release is None or not template.get("bucket") or not template.get("key"):
        raise ReleaseUnavailable("No release of this product is published yet; try again later.")
    url = presign(template["bucket"], template["key"], template.get("version_id") or "", LINK_SECONDS)
    return {
        "version": release.version,
        "launch_url": quick_create_url(region, url, product),
        "expires_at": format_timestamp(now + timedelta(seconds=LINK_SECONDS)),
    }
