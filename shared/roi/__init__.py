"""ROI estimates before big promotions (大促活动需提前15天提交ROI测算报告): a campaign flagged as a big
promotion owes an ROI report — document and expected revenue, cost and ROI — 15 calendar days
before it starts, under SLA; the planning gate waits for it."""
