"""Privacy (CCPA) delete requests: masked request records and complete erasure of the subject."""
