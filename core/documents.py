"""Business documents (sales and purchase orders, approvals, counts, transfers, payments)."""
