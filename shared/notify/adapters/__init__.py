"""One adapter per channel kind: native rendering, signing, and reading the vendor's answer."""

from __future__ import annotations

from shared.models import ChannelKind
from shared.notify.adapters import dingtalk, feishu, feishu_app, webhook, wecom
from shared.notify.adapters.base import Adapter, Classified, Prepared, Target

ADAPTERS: dict[ChannelKind, Adapter] = {
    ChannelKind.feishu: feishu.ADAPTER,
    ChannelKind.dingtalk: dingtalk.ADAPTER,
    ChannelKind.wecom: wecom.ADAPTER,
    ChannelKind.webhook: webhook.ADAPTER,
    ChannelKind.feishu_app: feishu_app.ADAPTER,
}

__all__ = ["ADAPTERS", "Adapter", "Classified", "Prepared", "Target"]
