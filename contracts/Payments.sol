// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title Payments
/// @notice Consumers' deposits and providers' settlements. A consumer
/// identity promises a provider a cumulative amount, signed over
/// (this contract, chain id, consumer, provider, cumulative); anyone may
/// submit the newest promise, and the provider receives what the promise
/// adds to what it already settled from that consumer, never more than the
/// consumer's deposit. A consumer withdraws its unspent deposit only after
/// announcing it and waiting the challenge period, during which providers
/// can still settle.
contract Payments {
    IERC20 public immutable token;
    uint256 public immutable challengePeriod; // seconds

    struct Withdrawal {
        address to;
        uint256 availableAt; // 0: none announced
    }

    mapping(address => uint256) public balanceOf; // consumer => deposit left
    mapping(address => mapping(address => uint256)) public settled; // consumer => provider => cumulative settled
    mapping(address => Withdrawal) public withdrawals;
    mapping(address => uint256) public withdrawalNonce;

    event Deposited(address indexed consumer, address indexed from, uint256 amount, uint256 balance);
    event Settled(address indexed consumer, address indexed provider, uint256 cumulative, uint256 paid);
    event WithdrawalRequested(address indexed consumer, address to, uint256 availableAt);
    event Withdrawn(address indexed consumer, address to, uint256 amount);

    constructor(IERC20 token_, uint256 challengePeriod_) {
        token = token_;
        challengePeriod = challengePeriod_;
    }

    /// @notice Adds amount to consumer's deposit, paid by the caller (who
    /// must have approved this contract).
    function deposit(address consumer, uint256 amount) external {
        require(amount > 0, "Payments: zero deposit");
        require(token.transferFrom(msg.sender, address(this), amount), "Payments: transfer failed");
        balanceOf[consumer] += amount;
        emit Deposited(consumer, msg.sender, amount, balanceOf[consumer]);
    }

    /// @notice Pays provider what consumer's promise of cumulative adds to
    /// what was settled before, at most the consumer's deposit.
    function settle(address consumer, address provider, uint256 cumulative, bytes calldata signature) external returns (uint256 paid) {
        bytes32 digest = keccak256(abi.encodePacked(address(this), block.chainid, consumer, provider, cumulative));
        require(_recover(digest, signature) == consumer, "Payments: promise not signed by the consumer");
        uint256 before = settled[consumer][provider];
        require(cumulative > before, "Payments: promise adds nothing to what was settled");
        paid = cumulative - before;
        if (paid > balanceOf[consumer]) {
            paid = balanceOf[consumer];
        }
        settled[consumer][provider] = before + paid;
        balanceOf[consumer] -= paid;
        require(token.transfer(provider, paid), "Payments: transfer failed");
        emit Settled(consumer, provider, cumulative, paid);
    }

    /// @notice Announces that consumer's remaining deposit goes to `to` once
    /// the challenge period has passed. Signed by the consumer over
    /// (this contract, chain id, consumer, to, nonce), so a gas payer may send it.
    function requestWithdrawal(address consumer, address to, bytes calldata signature) external {
        require(to != address(0), "Payments: withdrawal to the zero address");
        uint256 nonce = withdrawalNonce[consumer];
        bytes32 digest = keccak256(abi.encodePacked(address(this), block.chainid, consumer, to, nonce, "withdraw"));
        require(_recover(digest, signature) == consumer, "Payments: withdrawal not signed by the consumer");
        withdrawalNonce[consumer] = nonce + 1;
        uint256 at = block.timestamp + challengePeriod;
        withdrawals[consumer] = Withdrawal(to, at);
        emit WithdrawalRequested(consumer, to, at);
    }

    /// @notice Completes an announced withdrawal after the challenge period.
    function withdraw(address consumer) external returns (uint256 amount) {
        Withdrawal memory w = withdrawals[consumer];
        require(w.availableAt != 0, "Payments: no withdrawal announced");
        require(block.timestamp >= w.availableAt, "Payments: challenge period not over");
        delete withdrawals[consumer];
        amount = balanceOf[consumer];
        balanceOf[consumer] = 0;
        require(token.transfer(w.to, amount), "Payments: transfer failed");
        emit Withdrawn(consumer, w.to, amount);
    }

    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        require(sig.length == 65, "Payments: signature must be 65 bytes");
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        if (v < 27) {
            v += 27;
        }
        require(v == 27 || v == 28, "Payments: bad signature v");
        require(uint256(s) <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0, "Payments: bad signature s");
        bytes32 prefixed = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
        address signer = ecrecover(prefixed, v, r, s);
        require(signer != address(0), "Payments: bad signature");
        return signer;
    }
}
