"""Shops: order events signed by each shop (webhook), commission as her earnings, the earnings centre."""
