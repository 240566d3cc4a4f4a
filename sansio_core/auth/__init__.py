"""Credentials: static ones (bearer, basic, API key) and the pre-steps that need exchanges of
their own (OAuth, file auth, session endpoint, signatures; JKS keystores for keys).
"""
