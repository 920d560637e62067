// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IdentityRegistry
/// @notice The Registered Identities database of the myst network: anyone who
/// pays gas may register an identity by presenting its 64-byte uncompressed
/// secp256k1 public key together with that identity's signature over
/// (registry address, chain id, identity). The identity is derived from the
/// key here, so no one can register a key they do not hold.
contract IdentityRegistry {
    /// @notice Emitted once per identity, when it is registered.
    event Registered(address indexed identity, bytes publicKey);

    mapping(address => bytes) private keys;

    /// @notice Registers the identity that owns publicKey.
    /// @param publicKey the 64-byte uncompressed public key (X || Y, no 0x04 prefix)
    /// @param signature 65 bytes R || S || V (V 27 or 28), an EIP-191 personal
    /// signature by the identity over keccak256(abi.encodePacked(address(this), block.chainid, identity))
    function register(bytes calldata publicKey, bytes calldata signature) external {
        require(publicKey.length == 64, "IdentityRegistry: public key must be 64 bytes");
        require(signature.length == 65, "IdentityRegistry: signature must be 65 bytes");
        address identity = address(uint160(uint256(keccak256(publicKey))));
        require(keys[identity].length == 0, "IdentityRegistry: identity already registered");

        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19Ethereum Signed Message:\n32",
                keccak256(abi.encodePacked(address(this), block.chainid, identity))
            )
        );
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 32))
            v := byte(0, calldataload(add(signature.offset, 64)))
        }
        if (v < 27) {
            v += 27;
        }
        require(v == 27 || v == 28, "IdentityRegistry: bad signature v");
        // Reject malleable (high-s) signatures, as EIP-2 does for transactions.
        require(
            uint256(s) <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0,
            "IdentityRegistry: bad signature s"
        );
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0) && signer == identity, "IdentityRegistry: signature is not by the identity");

        keys[identity] = publicKey;
        emit Registered(identity, publicKey);
    }

    /// @notice Whether identity is registered.
    function isRegistered(address identity) external view returns (bool) {
        return keys[identity].length != 0;
    }

    /// @notice The registered public key of identity, or empty bytes.
    function publicKeyOf(address identity) external view returns (bytes memory) {
        return keys[identity];
    }
}
