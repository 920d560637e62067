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
/// adds to what it already settled from that consumer, paid first from the
/// consumer's lane for that provider, then from its free deposit.
///
/// A lane is money a consumer reserved for one provider: the consumer signs
/// a reservation (this contract, chain id, consumer, provider, amount,
/// nonce), anyone submits it, and the amount moves from the free deposit
/// into the lane, where no other provider and no withdrawal can reach it.
/// One deposit can then be promised to many providers safely, each up to
/// its lane. What a lane holds unused goes back to the free deposit only
/// after the consumer announces a release and the challenge period passes,
/// during which its provider can still settle.
///
/// A consumer withdraws its free deposit only after announcing it and
/// waiting the challenge period, during which providers can still settle.
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

    struct Lane {
        uint256 amount; // reserved for the provider, not yet paid out
        uint256 releaseAt; // 0: no release announced
    }

    mapping(address => mapping(address => Lane)) public lanes; // consumer => provider => lane
    mapping(address => mapping(address => uint256)) public laneNonce; // consumer => provider => next reservation/release nonce

    event Deposited(address indexed consumer, address indexed from, uint256 amount, uint256 balance);
    /// lane and balance are what is left after the payment.
    event Settled(address indexed consumer, address indexed provider, uint256 cumulative, uint256 paid, uint256 lane, uint256 balance);
    event LaneReserved(address indexed consumer, address indexed provider, uint256 amount, uint256 lane, uint256 balance, uint256 nonce);
    event LaneReleaseRequested(address indexed consumer, address indexed provider, uint256 releaseAt);
    event LaneReleased(address indexed consumer, address indexed provider, uint256 amount, uint256 balance);
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
    /// what was settled before: from the provider's lane first, then from
    /// the free deposit, at most both. A promise that would pay nothing
    /// (nothing new, or nothing left to pay from) reverts.
    function settle(address consumer, address provider, uint256 cumulative, bytes calldata signature) external returns (uint256 paid) {
        bytes32 digest = keccak256(abi.encodePacked(address(this), block.chainid, consumer, provider, cumulative));
        require(_recover(digest, signature) == consumer, "Payments: promise not signed by the consumer");
        uint256 before = settled[consumer][provider];
        require(cumulative > before, "Payments: promise adds nothing to what was settled");
        paid = _pay(consumer, provider, cumulative - before);
        settled[consumer][provider] = before + paid;
        require(token.transfer(provider, paid), "Payments: transfer failed");
        emit Settled(consumer, provider, cumulative, paid, lanes[consumer][provider].amount, balanceOf[consumer]);
    }

    /// @dev Takes up to owed from the provider's lane, then the free deposit.
    function _pay(address consumer, address provider, uint256 owed) internal returns (uint256 paid) {
        Lane storage lane = lanes[consumer][provider];
        uint256 fromLane = owed < lane.amount ? owed : lane.amount;
        uint256 fromFree = owed - fromLane;
        if (fromFree > balanceOf[consumer]) {
            fromFree = balanceOf[consumer];
        }
        paid = fromLane + fromFree;
        require(paid > 0, "Payments: nothing left to pay the promise from");
        lane.amount -= fromLane;
        balanceOf[consumer] -= fromFree;
    }

    /// @notice Moves amount of consumer's free deposit into its lane for
    /// provider. Signed by the consumer over (this contract, chain id,
    /// consumer, provider, amount, nonce, "reserve"); each nonce is used
    /// once, and a reservation cancels an announced release of the lane.
    function reserve(address consumer, address provider, uint256 amount, bytes calldata signature) external {
        require(amount > 0, "Payments: zero reservation");
        uint256 nonce = laneNonce[consumer][provider];
        bytes32 digest = keccak256(abi.encodePacked(address(this), block.chainid, consumer, provider, amount, nonce, "reserve"));
        require(_recover(digest, signature) == consumer, "Payments: reservation not signed by the consumer");
        require(amount <= balanceOf[consumer], "Payments: reservation exceeds the free deposit");
        laneNonce[consumer][provider] = nonce + 1;
        balanceOf[consumer] -= amount;
        Lane storage lane = lanes[consumer][provider];
        lane.amount += amount;
        lane.releaseAt = 0;
        emit LaneReserved(consumer, provider, amount, lane.amount, balanceOf[consumer], nonce);
    }

    /// @notice Announces that consumer's lane for provider goes back to its
    /// free deposit once the challenge period has passed. Signed by the
    /// consumer over (this contract, chain id, consumer, provider, nonce,
    /// "release"); it uses the lane's nonce, so a reservation signed before
    /// can no longer be submitted.
    function requestLaneRelease(address consumer, address provider, bytes calldata signature) external {
        uint256 nonce = laneNonce[consumer][provider];
        bytes32 digest = keccak256(abi.encodePacked(address(this), block.chainid, consumer, provider, nonce, "release"));
        require(_recover(digest, signature) == consumer, "Payments: release not signed by the consumer");
        laneNonce[consumer][provider] = nonce + 1;
        uint256 at = block.timestamp + challengePeriod;
        lanes[consumer][provider].releaseAt = at;
        emit LaneReleaseRequested(consumer, provider, at);
    }

    /// @notice Completes an announced lane release after the challenge period.
    function releaseLane(address consumer, address provider) external returns (uint256 amount) {
        Lane memory lane = lanes[consumer][provider];
        require(lane.releaseAt != 0, "Payments: no lane release announced");
        require(block.timestamp >= lane.releaseAt, "Payments: challenge period not over");
        delete lanes[consumer][provider];
        amount = lane.amount;
        balanceOf[consumer] += amount;
        emit LaneReleased(consumer, provider, amount, balanceOf[consumer]);
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
