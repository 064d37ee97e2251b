"""Campaigns as a trail item: a campaign's trail gathers the escalations of its stages."""

from __future__ import annotations

from enum import StrEnum

from shared.models import Campaign
from shared.sla.registry import TrailItem, register_item


class CampaignItem(StrEnum):
    campaign = "campaign"


register_item(TrailItem(CampaignItem.campaign, Campaign.id))
