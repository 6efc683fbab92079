"""The sandbox: one local server that emulates ESh, VK ID and Sferum.

It imports nothing of the client, so that it stays an honest peer of it.
"""
