"""Analytics: KPIs computed in SQL, and the member 360 view."""
