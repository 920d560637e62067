// Code generated - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contracts

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = errors.New
	_ = big.NewInt
	_ = strings.NewReader
	_ = ethereum.NotFound
	_ = bind.Bind
	_ = common.Big1
	_ = types.BloomLookup
	_ = event.NewSubscription
	_ = abi.ConvertType
	_ = time.Tick
	_ = context.Background
)

// IdentityRegistryMetaData contains all meta data concerning the IdentityRegistry contract.
var IdentityRegistryMetaData = &bind.MetaData{
	ABI: "[{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"identity\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"bytes\",\"name\":\"publicKey\",\"type\":\"bytes\"}],\"name\":\"Registered\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"identity\",\"type\":\"address\"}],\"name\":\"isRegistered\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"identity\",\"type\":\"address\"}],\"name\":\"publicKeyOf\",\"outputs\":[{\"internalType\":\"bytes\",\"name\":\"\",\"type\":\"bytes\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes\",\"name\":\"publicKey\",\"type\":\"bytes\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"register\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	Bin: "0x6080604052348015600e575f5ffd5b506108f78061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061003f575f3560e01c80635e8af8d214610043578063a3747fef1461006c578063c3c5a54714610081575b5f5ffd5b6100566100513660046105f4565b6100a4565b6040516100639190610621565b60405180910390f35b61007f61007a36600461069b565b61014d565b005b61009461008f3660046105f4565b6105c9565b6040519015158152602001610063565b6001600160a01b0381165f9081526020819052604090208054606091906100ca90610707565b80601f01602080910402602001604051908101604052809291908181526020018280546100f690610707565b80156101415780601f1061011857610100808354040283529160200191610141565b820191905f5260205f20905b81548152906001019060200180831161012457829003601f168201915b50505050509050919050565b604083146101b85760405162461bcd60e51b815260206004820152602d60248201527f4964656e7469747952656769737472793a207075626c6963206b6579206d757360448201526c7420626520363420627974657360981b60648201526084015b60405180910390fd5b6041811461021d5760405162461bcd60e51b815260206004820152602c60248201527f4964656e7469747952656769737472793a207369676e6174757265206d75737460448201526b20626520363520627974657360a01b60648201526084016101af565b5f848460405161022e92919061073f565b60405180910390205f1c90505f5f826001600160a01b03166001600160a01b031681526020019081526020015f20805461026790610707565b1590506102cc5760405162461bcd60e51b815260206004820152602d60248201527f4964656e7469747952656769737472793a206964656e7469747920616c72656160448201526c191e481c9959da5cdd195c9959609a1b60648201526084016101af565b6040516bffffffffffffffffffffffff1930606090811b8216602084015246603484015283901b1660548201525f9060680160408051601f198184030181529082905280516020918201207f19457468657265756d205369676e6564204d6573736167653a0a33320000000091830191909152603c820152605c0160408051601f1981840301815291815281516020928301209250853591860135908601355f1a601b81101561038457610381601b8261074e565b90505b8060ff16601b148061039957508060ff16601c145b6103ef5760405162461bcd60e51b815260206004820152602160248201527f4964656e7469747952656769737472793a20626164207369676e6174757265206044820152603b60f91b60648201526084016101af565b7f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a08211156104695760405162461bcd60e51b815260206004820152602160248201527f4964656e7469747952656769737472793a20626164207369676e6174757265206044820152607360f81b60648201526084016101af565b604080515f8082526020820180845287905260ff841692820192909252606081018590526080810184905260019060a0016020604051602081039080840390855afa1580156104ba573d5f5f3e3d5ffd5b5050604051601f1901519150506001600160a01b038116158015906104f05750856001600160a01b0316816001600160a01b0316145b6105575760405162461bcd60e51b815260206004820152603260248201527f4964656e7469747952656769737472793a207369676e6174757265206973206e6044820152716f7420627920746865206964656e7469747960701b60648201526084016101af565b6001600160a01b0386165f9081526020819052604090206105798a8c836107d9565b50856001600160a01b03167fb5ca2dfb0bd25603299b76fefa9fbe3abdc9f951bdfb7ffd208f93ab7f8e203c8b8b6040516105b5929190610893565b60405180910390a250505050505050505050565b6001600160a01b0381165f90815260208190526040812080546105eb90610707565b15159392505050565b5f60208284031215610604575f5ffd5b81356001600160a01b038116811461061a575f5ffd5b9392505050565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b5f5f83601f840112610666575f5ffd5b50813567ffffffffffffffff81111561067d575f5ffd5b602083019150836020828501011115610694575f5ffd5b9250929050565b5f5f5f5f604085870312156106ae575f5ffd5b843567ffffffffffffffff8111156106c4575f5ffd5b6106d087828801610656565b909550935050602085013567ffffffffffffffff8111156106ef575f5ffd5b6106fb87828801610656565b95989497509550505050565b600181811c9082168061071b57607f821691505b60208210810361073957634e487b7160e01b5f52602260045260245ffd5b50919050565b818382375f9101908152919050565b60ff818116838216019081111561077357634e487b7160e01b5f52601160045260245ffd5b92915050565b634e487b7160e01b5f52604160045260245ffd5b601f8211156107d457805f5260205f20601f840160051c810160208510156107b25750805b601f840160051c820191505b818110156107d1575f81556001016107be565b50505b505050565b67ffffffffffffffff8311156107f1576107f1610779565b610805836107ff8354610707565b8361078d565b5f601f841160018114610836575f851561081f5750838201355b5f19600387901b1c1916600186901b1783556107d1565b5f83815260208120601f198716915b828110156108655786850135825560209485019460019092019101610845565b5086821015610881575f1960f88860031b161c19848701351681555b505060018560011b0183555050505050565b60208152816020820152818360408301375f818301604090810191909152601f909201601f1916010191905056fea2646970667358221220a6804714e07054e96d934ab22f5cd9b9d79de367a52312f61f6ca3eb6eaad44364736f6c634300081e0033",
}

// IdentityRegistryABI is the input ABI used to generate the binding from.
// Deprecated: Use IdentityRegistryMetaData.ABI instead.
var IdentityRegistryABI = IdentityRegistryMetaData.ABI

// IdentityRegistryBin is the compiled bytecode used for deploying new contracts.
// Deprecated: Use IdentityRegistryMetaData.Bin instead.
var IdentityRegistryBin = IdentityRegistryMetaData.Bin

// DeployIdentityRegistry deploys a new Ethereum contract, binding an instance of IdentityRegistry to it.
func DeployIdentityRegistry(auth *bind.TransactOpts, backend bind.ContractBackend) (common.Address, *types.Transaction, *IdentityRegistry, error) {
	parsed, err := IdentityRegistryMetaData.GetAbi()
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	if parsed == nil {
		return common.Address{}, nil, nil, errors.New("GetABI returned nil")
	}

	address, tx, contract, err := bind.DeployContract(auth, *parsed, common.FromHex(IdentityRegistryBin), backend)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	return address, tx, &IdentityRegistry{IdentityRegistryCaller: IdentityRegistryCaller{contract: contract}, IdentityRegistryTransactor: IdentityRegistryTransactor{contract: contract}, IdentityRegistryFilterer: IdentityRegistryFilterer{contract: contract}}, nil
}

// IdentityRegistry is an auto generated Go binding around an Ethereum contract.
type IdentityRegistry struct {
	IdentityRegistryCaller     // Read-only binding to the contract
	IdentityRegistryTransactor // Write-only binding to the contract
	IdentityRegistryFilterer   // Log filterer for contract events
}

// IdentityRegistryCaller is an auto generated read-only Go binding around an Ethereum contract.
type IdentityRegistryCaller struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// IdentityRegistryTransactor is an auto generated write-only Go binding around an Ethereum contract.
type IdentityRegistryTransactor struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// IdentityRegistryFilterer is an auto generated log filtering Go binding around an Ethereum contract events.
type IdentityRegistryFilterer struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// IdentityRegistrySession is an auto generated Go binding around an Ethereum contract,
// with pre-set call and transact options.
type IdentityRegistrySession struct {
	Contract     *IdentityRegistry // Generic contract binding to set the session for
	CallOpts     bind.CallOpts     // Call options to use throughout this session
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// IdentityRegistryCallerSession is an auto generated read-only Go binding around an Ethereum contract,
// with pre-set call options.
type IdentityRegistryCallerSession struct {
	Contract *IdentityRegistryCaller // Generic contract caller binding to set the session for
	CallOpts bind.CallOpts           // Call options to use throughout this session
}

// IdentityRegistryTransactorSession is an auto generated write-only Go binding around an Ethereum contract,
// with pre-set transact options.
type IdentityRegistryTransactorSession struct {
	Contract     *IdentityRegistryTransactor // Generic contract transactor binding to set the session for
	TransactOpts bind.TransactOpts           // Transaction auth options to use throughout this session
}

// IdentityRegistryRaw is an auto generated low-level Go binding around an Ethereum contract.
type IdentityRegistryRaw struct {
	Contract *IdentityRegistry // Generic contract binding to access the raw methods on
}

// IdentityRegistryCallerRaw is an auto generated low-level read-only Go binding around an Ethereum contract.
type IdentityRegistryCallerRaw struct {
	Contract *IdentityRegistryCaller // Generic read-only contract binding to access the raw methods on
}

// IdentityRegistryTransactorRaw is an auto generated low-level write-only Go binding around an Ethereum contract.
type IdentityRegistryTransactorRaw struct {
	Contract *IdentityRegistryTransactor // Generic write-only contract binding to access the raw methods on
}

// NewIdentityRegistry creates a new instance of IdentityRegistry, bound to a specific deployed contract.
func NewIdentityRegistry(address common.Address, backend bind.ContractBackend) (*IdentityRegistry, error) {
	contract, err := bindIdentityRegistry(address, backend, backend, backend)
	if err != nil {
		return nil, err
	}
	return &IdentityRegistry{IdentityRegistryCaller: IdentityRegistryCaller{contract: contract}, IdentityRegistryTransactor: IdentityRegistryTransactor{contract: contract}, IdentityRegistryFilterer: IdentityRegistryFilterer{contract: contract}}, nil
}

// NewIdentityRegistryCaller creates a new read-only instance of IdentityRegistry, bound to a specific deployed contract.
func NewIdentityRegistryCaller(address common.Address, caller bind.ContractCaller) (*IdentityRegistryCaller, error) {
	contract, err := bindIdentityRegistry(address, caller, nil, nil)
	if err != nil {
		return nil, err
	}
	return &IdentityRegistryCaller{contract: contract}, nil
}

// NewIdentityRegistryTransactor creates a new write-only instance of IdentityRegistry, bound to a specific deployed contract.
func NewIdentityRegistryTransactor(address common.Address, transactor bind.ContractTransactor) (*IdentityRegistryTransactor, error) {
	contract, err := bindIdentityRegistry(address, nil, transactor, nil)
	if err != nil {
		return nil, err
	}
	return &IdentityRegistryTransactor{contract: contract}, nil
}

// NewIdentityRegistryFilterer creates a new log filterer instance of IdentityRegistry, bound to a specific deployed contract.
func NewIdentityRegistryFilterer(address common.Address, filterer bind.ContractFilterer) (*IdentityRegistryFilterer, error) {
	contract, err := bindIdentityRegistry(address, nil, nil, filterer)
	if err != nil {
		return nil, err
	}
	return &IdentityRegistryFilterer{contract: contract}, nil
}

// bindIdentityRegistry binds a generic wrapper to an already deployed contract.
func bindIdentityRegistry(address common.Address, caller bind.ContractCaller, transactor bind.ContractTransactor, filterer bind.ContractFilterer) (*bind.BoundContract, error) {
	parsed, err := IdentityRegistryMetaData.GetAbi()
	if err != nil {
		return nil, err
	}
	return bind.NewBoundContract(address, *parsed, caller, transactor, filterer), nil
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_IdentityRegistry *IdentityRegistryRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _IdentityRegistry.Contract.IdentityRegistryCaller.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_IdentityRegistry *IdentityRegistryRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.IdentityRegistryTransactor.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_IdentityRegistry *IdentityRegistryRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.IdentityRegistryTransactor.contract.Transact(opts, method, params...)
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_IdentityRegistry *IdentityRegistryCallerRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _IdentityRegistry.Contract.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_IdentityRegistry *IdentityRegistryTransactorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_IdentityRegistry *IdentityRegistryTransactorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.contract.Transact(opts, method, params...)
}

// IsRegistered is a free data retrieval call binding the contract method 0xc3c5a547.
//
// Solidity: function isRegistered(address identity) view returns(bool)
func (_IdentityRegistry *IdentityRegistryCaller) IsRegistered(opts *bind.CallOpts, identity common.Address) (bool, error) {
	var out []interface{}
	err := _IdentityRegistry.contract.Call(opts, &out, "isRegistered", identity)

	if err != nil {
		return *new(bool), err
	}

	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)

	return out0, err

}

// IsRegistered is a free data retrieval call binding the contract method 0xc3c5a547.
//
// Solidity: function isRegistered(address identity) view returns(bool)
func (_IdentityRegistry *IdentityRegistrySession) IsRegistered(identity common.Address) (bool, error) {
	return _IdentityRegistry.Contract.IsRegistered(&_IdentityRegistry.CallOpts, identity)
}

// IsRegistered is a free data retrieval call binding the contract method 0xc3c5a547.
//
// Solidity: function isRegistered(address identity) view returns(bool)
func (_IdentityRegistry *IdentityRegistryCallerSession) IsRegistered(identity common.Address) (bool, error) {
	return _IdentityRegistry.Contract.IsRegistered(&_IdentityRegistry.CallOpts, identity)
}

// PublicKeyOf is a free data retrieval call binding the contract method 0x5e8af8d2.
//
// Solidity: function publicKeyOf(address identity) view returns(bytes)
func (_IdentityRegistry *IdentityRegistryCaller) PublicKeyOf(opts *bind.CallOpts, identity common.Address) ([]byte, error) {
	var out []interface{}
	err := _IdentityRegistry.contract.Call(opts, &out, "publicKeyOf", identity)

	if err != nil {
		return *new([]byte), err
	}

	out0 := *abi.ConvertType(out[0], new([]byte)).(*[]byte)

	return out0, err

}

// PublicKeyOf is a free data retrieval call binding the contract method 0x5e8af8d2.
//
// Solidity: function publicKeyOf(address identity) view returns(bytes)
func (_IdentityRegistry *IdentityRegistrySession) PublicKeyOf(identity common.Address) ([]byte, error) {
	return _IdentityRegistry.Contract.PublicKeyOf(&_IdentityRegistry.CallOpts, identity)
}

// PublicKeyOf is a free data retrieval call binding the contract method 0x5e8af8d2.
//
// Solidity: function publicKeyOf(address identity) view returns(bytes)
func (_IdentityRegistry *IdentityRegistryCallerSession) PublicKeyOf(identity common.Address) ([]byte, error) {
	return _IdentityRegistry.Contract.PublicKeyOf(&_IdentityRegistry.CallOpts, identity)
}

// Register is a paid mutator transaction binding the contract method 0xa3747fef.
//
// Solidity: function register(bytes publicKey, bytes signature) returns()
func (_IdentityRegistry *IdentityRegistryTransactor) Register(opts *bind.TransactOpts, publicKey []byte, signature []byte) (*types.Transaction, error) {
	return _IdentityRegistry.contract.Transact(opts, "register", publicKey, signature)
}

// Register is a paid mutator transaction binding the contract method 0xa3747fef.
//
// Solidity: function register(bytes publicKey, bytes signature) returns()
func (_IdentityRegistry *IdentityRegistrySession) Register(publicKey []byte, signature []byte) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.Register(&_IdentityRegistry.TransactOpts, publicKey, signature)
}

// Register is a paid mutator transaction binding the contract method 0xa3747fef.
//
// Solidity: function register(bytes publicKey, bytes signature) returns()
func (_IdentityRegistry *IdentityRegistryTransactorSession) Register(publicKey []byte, signature []byte) (*types.Transaction, error) {
	return _IdentityRegistry.Contract.Register(&_IdentityRegistry.TransactOpts, publicKey, signature)
}

// IdentityRegistryRegisteredIterator is returned from FilterRegistered and is used to iterate over the raw logs and unpacked data for Registered events raised by the IdentityRegistry contract.
type IdentityRegistryRegisteredIterator struct {
	Event *IdentityRegistryRegistered // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *IdentityRegistryRegisteredIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(IdentityRegistryRegistered)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(IdentityRegistryRegistered)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *IdentityRegistryRegisteredIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *IdentityRegistryRegisteredIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// IdentityRegistryRegistered represents a Registered event raised by the IdentityRegistry contract.
type IdentityRegistryRegistered struct {
	Identity  common.Address
	PublicKey []byte
	Raw       types.Log // Blockchain specific contextual infos
}

// FilterRegistered is a free log retrieval operation binding the contract event 0xb5ca2dfb0bd25603299b76fefa9fbe3abdc9f951bdfb7ffd208f93ab7f8e203c.
//
// Solidity: event Registered(address indexed identity, bytes publicKey)
func (_IdentityRegistry *IdentityRegistryFilterer) FilterRegistered(opts *bind.FilterOpts, identity []common.Address) (*IdentityRegistryRegisteredIterator, error) {

	var identityRule []interface{}
	for _, identityItem := range identity {
		identityRule = append(identityRule, identityItem)
	}

	logs, sub, err := _IdentityRegistry.contract.FilterLogs(opts, "Registered", identityRule)
	if err != nil {
		return nil, err
	}
	return &IdentityRegistryRegisteredIterator{contract: _IdentityRegistry.contract, event: "Registered", logs: logs, sub: sub}, nil
}

// WatchRegistered is a free log subscription operation binding the contract event 0xb5ca2dfb0bd25603299b76fefa9fbe3abdc9f951bdfb7ffd208f93ab7f8e203c.
//
// Solidity: event Registered(address indexed identity, bytes publicKey)
func (_IdentityRegistry *IdentityRegistryFilterer) WatchRegistered(opts *bind.WatchOpts, sink chan<- *IdentityRegistryRegistered, identity []common.Address) (event.Subscription, error) {

	var identityRule []interface{}
	for _, identityItem := range identity {
		identityRule = append(identityRule, identityItem)
	}

	logs, sub, err := _IdentityRegistry.contract.WatchLogs(opts, "Registered", identityRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(IdentityRegistryRegistered)
				if err := _IdentityRegistry.contract.UnpackLog(event, "Registered", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseRegistered is a log parse operation binding the contract event 0xb5ca2dfb0bd25603299b76fefa9fbe3abdc9f951bdfb7ffd208f93ab7f8e203c.
//
// Solidity: event Registered(address indexed identity, bytes publicKey)
func (_IdentityRegistry *IdentityRegistryFilterer) ParseRegistered(log types.Log) (*IdentityRegistryRegistered, error) {
	event := new(IdentityRegistryRegistered)
	if err := _IdentityRegistry.contract.UnpackLog(event, "Registered", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}
