"""Money metrics (ROI, CPA, cost per lead, CAC, CLTV): money in against money out, per campaign and
per department and period — computed exactly, and honest about the inputs they lack."""
