"""HTTP targets: message rules, request plans (structured, raw, multipart), the h11 exchange,
attempts and the retry policy, response building, and the target that strings them together.
"""
