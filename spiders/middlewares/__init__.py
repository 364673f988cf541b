"""Scrapy downloader middlewares of the hotline crawler, one per module."""
