"""Scrapy item pipelines of the hotline crawler, one per module."""
