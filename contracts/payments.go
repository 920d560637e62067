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

// PaymentsMetaData contains all meta data concerning the Payments contract.
var PaymentsMetaData = &bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"challengePeriod_\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"}],\"name\":\"Deposited\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"releaseAt\",\"type\":\"uint256\"}],\"name\":\"LaneReleaseRequested\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"}],\"name\":\"LaneReleased\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"lane\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"nonce\",\"type\":\"uint256\"}],\"name\":\"LaneReserved\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"cumulative\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"paid\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"lane\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"}],\"name\":\"Settled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"availableAt\",\"type\":\"uint256\"}],\"name\":\"WithdrawalRequested\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Withdrawn\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"balanceOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"challengePeriod\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"deposit\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"laneNonce\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"lanes\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"releaseAt\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"}],\"name\":\"releaseLane\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"requestLaneRelease\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"requestWithdrawal\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"reserve\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"cumulative\",\"type\":\"uint256\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"settle\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"paid\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"settled\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"}],\"name\":\"withdraw\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"withdrawalNonce\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"withdrawals\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"availableAt\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	Bin: "0x60c060405234801561000f575f5ffd5b506040516118e33803806118e383398101604081905261002e91610044565b6001600160a01b0390911660805260a05261007b565b5f5f60408385031215610055575f5ffd5b82516001600160a01b038116811461006b575f5ffd5b6020939093015192949293505050565b60805160a0516118246100bf5f395f81816102bc01528181610aa4015261110701525f81816102e30152818161038c015281816105ad0152610e6f01526118245ff3fe608060405234801561000f575f5ffd5b50600436106100f0575f3560e01c8063776b018c11610093578063b62a8d5211610063578063b62a8d521461027a578063e8798a42146102a4578063f3f480d9146102b7578063fc0c546a146102de575f5ffd5b8063776b018c146101f05780637a9262a214610203578063914e1a471461025457806399bb07b814610267575f5ffd5b80635958f950116100ce5780635958f9501461014e5780635af37a381461016157806365b39968146101a757806370a08231146101d1575f5ffd5b806306044b36146100f457806347e7ef241461012657806351cff8d91461013b575b5f5ffd5b610113610102366004611577565b60036020525f908152604090205481565b6040519081526020015b60405180910390f35b610139610134366004611597565b61031d565b005b610113610149366004611577565b61049b565b61013961015c366004611604565b610684565b61019261016f36600461166e565b600460209081525f92835260408084209091529082529020805460019091015482565b6040805192835260208301919091520161011d565b6101136101b536600461166e565b600160209081525f928352604080842090915290825290205481565b6101136101df366004611577565b5f6020819052908152604090205481565b6101396101fe36600461169f565b610968565b610235610211366004611577565b60026020525f9081526040902080546001909101546001600160a01b039091169082565b604080516001600160a01b03909316835260208301919091520161011d565b61011361026236600461166e565b610b37565b610113610275366004611604565b610ca1565b61011361028836600461166e565b600560209081525f928352604080842090915290825290205481565b6101396102b236600461169f565b610f7a565b6101137f000000000000000000000000000000000000000000000000000000000000000081565b6103057f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b03909116815260200161011d565b5f811161036a5760405162461bcd60e51b815260206004820152601660248201527514185e5b595b9d1cce881e995c9bc819195c1bdcda5d60521b60448201526064015b60405180910390fd5b6040516323b872dd60e01b8152336004820152306024820152604481018290527f00000000000000000000000000000000000000000000000000000000000000006001600160a01b0316906323b872dd906064016020604051808303815f875af11580156103da573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906103fe91906116fc565b61041a5760405162461bcd60e51b81526004016103619061171b565b6001600160a01b0382165f9081526020819052604081208054839290610441908490611766565b90915550506001600160a01b0382165f8181526020818152604091829020548251858152918201523392917ff5681f9d0db1b911ac18ee83d515a1cf1051853a9eae418316a2fdf7dea427c5910160405180910390a35050565b6001600160a01b038082165f908152600260209081526040808320815180830190925280549094168152600190930154908301819052909190820361052c5760405162461bcd60e51b815260206004820152602160248201527f5061796d656e74733a206e6f207769746864726177616c20616e6e6f756e63656044820152601960fa1b6064820152608401610361565b80602001514210156105505760405162461bcd60e51b81526004016103619061177f565b6001600160a01b038381165f90815260026020908152604080832080546001600160a01b03191681556001018390559082905280822080549290558351905163a9059cbb60e01b81529083166004820152602481018290529093507f00000000000000000000000000000000000000000000000000000000000000009091169063a9059cbb906044016020604051808303815f875af11580156105f5573d5f5f3e3d5ffd5b505050506040513d601f19601f8201168201806040525081019061061991906116fc565b6106355760405162461bcd60e51b81526004016103619061171b565b8051604080516001600160a01b03928316815260208101859052918516917fd1c19fbcd4551a5edfb66d43d2e337c04837afda3482b42bdf569a8fccdae5fb910160405180910390a250919050565b5f83116106d35760405162461bcd60e51b815260206004820152601a60248201527f5061796d656e74733a207a65726f207265736572766174696f6e0000000000006044820152606401610361565b6001600160a01b038581165f8181526005602090815260408083209489168352938152908390205483516001600160601b031930606090811b8216838601524660348401528b811b821660548401528a901b166068820152607c8101889052609c8101829052667265736572766560c81b60bc820152845180820360a301815260c390910190945283519390910192909220906107718286866111bb565b6001600160a01b0316146107e05760405162461bcd60e51b815260206004820152603060248201527f5061796d656e74733a207265736572766174696f6e206e6f74207369676e656460448201526f10313c903a34329031b7b739bab6b2b960811b6064820152608401610361565b6001600160a01b0387165f9081526020819052604090205485111561085e5760405162461bcd60e51b815260206004820152602e60248201527f5061796d656e74733a207265736572766174696f6e206578636565647320746860448201526d1948199c99594819195c1bdcda5d60921b6064820152608401610361565b610869826001611766565b6001600160a01b038089165f818152600560209081526040808320948c1683529381528382209490945590815291829052812080548792906108ac9084906117c2565b90915550506001600160a01b038088165f908152600460209081526040808320938a1683529290529081208054909187918391906108eb908490611766565b90915550505f6001820181905581546001600160a01b038a811680845260208481526040948590205485518c81529182019490945293840192909252606083018690528916917f43ab39639ad1e587e5be2eb82187ed816e21ddcc39e119baf5664b968ae74af89060800160405180910390a35050505050505050565b6001600160a01b038481165f8181526005602090815260408083209488168352938152908390205483516001600160601b031930606090811b8216838601524660348401528a811b8216605484015289901b166068820152607c81018290526672656c6561736560c81b609c8201528451808203608301815260a390910190945283519390910192909220906109ff8286866111bb565b6001600160a01b031614610a6a5760405162461bcd60e51b815260206004820152602c60248201527f5061796d656e74733a2072656c65617365206e6f74207369676e65642062792060448201526b3a34329031b7b739bab6b2b960a11b6064820152608401610361565b610a75826001611766565b6001600160a01b038088165f908152600560209081526040808320938a16835292905290812091909155610ac97f000000000000000000000000000000000000000000000000000000000000000042611766565b6001600160a01b038881165f818152600460209081526040808320948c16808452948252918290206001018590559051848152939450919290917ff1b06a08ad105b6ee5df65f81c427481c19bda4ecc0579612ccce16ca81c422b910160405180910390a350505050505050565b6001600160a01b038083165f9081526004602090815260408083209385168352928152828220835180850190945280548452600101549083018190529091908203610bd05760405162461bcd60e51b815260206004820152602360248201527f5061796d656e74733a206e6f206c616e652072656c6561736520616e6e6f756e60448201526218d95960ea1b6064820152608401610361565b8060200151421015610bf45760405162461bcd60e51b81526004016103619061177f565b6001600160a01b038085165f81815260046020908152604080832094881683529381528382208281556001018290558451928252819052918220805491945084929091610c42908490611766565b90915550506001600160a01b038481165f818152602081815260409182902054825187815291820152928616927f1763affdfb5554b22269a44af8539027d8657b3c3c756f9d9a62864589e492f5910160405180910390a35092915050565b6040516001600160601b031930606090811b8216602084015246603484015287811b8216605484015286901b166068820152607c81018490525f908190609c01604051602081830303815290604052805190602001209050866001600160a01b0316610d0e8286866111bb565b6001600160a01b031614610d795760405162461bcd60e51b815260206004820152602c60248201527f5061796d656e74733a2070726f6d697365206e6f74207369676e65642062792060448201526b3a34329031b7b739bab6b2b960a11b6064820152608401610361565b6001600160a01b038088165f908152600160209081526040808320938a1683529290522054808611610e085760405162461bcd60e51b815260206004820152603260248201527f5061796d656e74733a2070726f6d6973652061646473206e6f7468696e6720746044820152711bc81dda185d081dd85cc81cd95d1d1b195960721b6064820152608401610361565b610e1c8888610e17848a6117c2565b61141a565b9250610e288382611766565b6001600160a01b038981165f9081526001602090815260408083208c8516808552925291829020939093555163a9059cbb60e01b81526004810192909252602482018590527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af1158015610eb5573d5f5f3e3d5ffd5b505050506040513d601f19601f82011682018060405250810190610ed991906116fc565b610ef55760405162461bcd60e51b81526004016103619061171b565b6001600160a01b038881165f818152600460209081526040808320948c1680845294825280832054848452838352928190205481518c81529283018990529082019290925260608101919091527fc55b9641992f9262cb712fb65ffda5cbbb1b54fa323a13bae8eda7d66350656e9060800160405180910390a3505095945050505050565b6001600160a01b038316610fe15760405162461bcd60e51b815260206004820152602860248201527f5061796d656e74733a207769746864726177616c20746f20746865207a65726f604482015267206164647265737360c01b6064820152608401610361565b6001600160a01b0384165f818152600360209081526040918290205482516001600160601b031930606090811b8216838601524660348401528a811b8216605484015289901b166068820152607c810182905267776974686472617760c01b609c8201528351808203608401815260a490910190935282519290910191909120909161106e8286866111bb565b6001600160a01b0316146110dc5760405162461bcd60e51b815260206004820152602f60248201527f5061796d656e74733a207769746864726177616c206e6f74207369676e65642060448201526e313c903a34329031b7b739bab6b2b960891b6064820152608401610361565b6110e7826001611766565b6001600160a01b0387165f9081526003602052604081209190915561112c7f000000000000000000000000000000000000000000000000000000000000000042611766565b6040805180820182526001600160a01b0389811680835260208084018681528d84165f81815260028452879020955186546001600160a01b03191695169490941785555160019094019390935583519081529182018490529293507f04c56a409d50971e45c5a2d96e5d557d2b0f1d66d40f14b141e4c958b0f39b32910160405180910390a250505050505050565b5f604182146112185760405162461bcd60e51b8152602060048201526024808201527f5061796d656e74733a207369676e6174757265206d75737420626520363520626044820152637974657360e01b6064820152608401610361565b8235602084013560408501355f1a601b81101561123d5761123a601b826117d5565b90505b8060ff16601b148061125257508060ff16601c145b61129e5760405162461bcd60e51b815260206004820152601960248201527f5061796d656e74733a20626164207369676e61747572652076000000000000006044820152606401610361565b7f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a082111561130e5760405162461bcd60e51b815260206004820152601960248201527f5061796d656e74733a20626164207369676e61747572652073000000000000006044820152606401610361565b6040517f19457468657265756d205369676e6564204d6573736167653a0a3332000000006020820152603c81018890525f90605c0160408051601f1981840301815282825280516020918201205f80855291840180845281905260ff86169284019290925260608301879052608083018690529092509060019060a0016020604051602081039080840390855afa1580156113ab573d5f5f3e3d5ffd5b5050604051601f1901519150506001600160a01b03811661140e5760405162461bcd60e51b815260206004820152601760248201527f5061796d656e74733a20626164207369676e61747572650000000000000000006044820152606401610361565b98975050505050505050565b6001600160a01b038084165f9081526004602090815260408083209386168352929052908120805482908410611451578154611453565b835b90505f61146082866117c2565b6001600160a01b0388165f9081526020819052604090205490915081111561149c57506001600160a01b0386165f908152602081905260409020545b6114a68183611766565b93505f841161150e5760405162461bcd60e51b815260206004820152602e60248201527f5061796d656e74733a206e6f7468696e67206c65667420746f2070617920746860448201526d652070726f6d6973652066726f6d60901b6064820152608401610361565b81835f015f82825461152091906117c2565b90915550506001600160a01b0387165f908152602081905260408120805483929061154c9084906117c2565b9091555093979650505050505050565b80356001600160a01b0381168114611572575f5ffd5b919050565b5f60208284031215611587575f5ffd5b6115908261155c565b9392505050565b5f5f604083850312156115a8575f5ffd5b6115b18361155c565b946020939093013593505050565b5f5f83601f8401126115cf575f5ffd5b50813567ffffffffffffffff8111156115e6575f5ffd5b6020830191508360208285010111156115fd575f5ffd5b9250929050565b5f5f5f5f5f60808688031215611618575f5ffd5b6116218661155c565b945061162f6020870161155c565b935060408601359250606086013567ffffffffffffffff811115611651575f5ffd5b61165d888289016115bf565b969995985093965092949392505050565b5f5f6040838503121561167f575f5ffd5b6116888361155c565b91506116966020840161155c565b90509250929050565b5f5f5f5f606085870312156116b2575f5ffd5b6116bb8561155c565b93506116c96020860161155c565b9250604085013567ffffffffffffffff8111156116e4575f5ffd5b6116f0878288016115bf565b95989497509550505050565b5f6020828403121561170c575f5ffd5b81518015158114611590575f5ffd5b60208082526019908201527f5061796d656e74733a207472616e73666572206661696c656400000000000000604082015260600190565b634e487b7160e01b5f52601160045260245ffd5b8082018082111561177957611779611752565b92915050565b60208082526023908201527f5061796d656e74733a206368616c6c656e676520706572696f64206e6f74206f6040820152623b32b960e91b606082015260800190565b8181038181111561177957611779611752565b60ff81811683821601908111156117795761177961175256fea2646970667358221220fa3ba8222aca3066b015c3610e07aac377f14ed623002aa67ee299c3634004cd64736f6c634300081e0033",
}

// PaymentsABI is the input ABI used to generate the binding from.
// Deprecated: Use PaymentsMetaData.ABI instead.
var PaymentsABI = PaymentsMetaData.ABI

// PaymentsBin is the compiled bytecode used for deploying new contracts.
// Deprecated: Use PaymentsMetaData.Bin instead.
var PaymentsBin = PaymentsMetaData.Bin

// DeployPayments deploys a new Ethereum contract, binding an instance of Payments to it.
func DeployPayments(auth *bind.TransactOpts, backend bind.ContractBackend, token_ common.Address, challengePeriod_ *big.Int) (common.Address, *types.Transaction, *Payments, error) {
	parsed, err := PaymentsMetaData.GetAbi()
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	if parsed == nil {
		return common.Address{}, nil, nil, errors.New("GetABI returned nil")
	}

	address, tx, contract, err := bind.DeployContract(auth, *parsed, common.FromHex(PaymentsBin), backend, token_, challengePeriod_)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	return address, tx, &Payments{PaymentsCaller: PaymentsCaller{contract: contract}, PaymentsTransactor: PaymentsTransactor{contract: contract}, PaymentsFilterer: PaymentsFilterer{contract: contract}}, nil
}

// Payments is an auto generated Go binding around an Ethereum contract.
type Payments struct {
	PaymentsCaller     // Read-only binding to the contract
	PaymentsTransactor // Write-only binding to the contract
	PaymentsFilterer   // Log filterer for contract events
}

// PaymentsCaller is an auto generated read-only Go binding around an Ethereum contract.
type PaymentsCaller struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// PaymentsTransactor is an auto generated write-only Go binding around an Ethereum contract.
type PaymentsTransactor struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// PaymentsFilterer is an auto generated log filtering Go binding around an Ethereum contract events.
type PaymentsFilterer struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// PaymentsSession is an auto generated Go binding around an Ethereum contract,
// with pre-set call and transact options.
type PaymentsSession struct {
	Contract     *Payments         // Generic contract binding to set the session for
	CallOpts     bind.CallOpts     // Call options to use throughout this session
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// PaymentsCallerSession is an auto generated read-only Go binding around an Ethereum contract,
// with pre-set call options.
type PaymentsCallerSession struct {
	Contract *PaymentsCaller // Generic contract caller binding to set the session for
	CallOpts bind.CallOpts   // Call options to use throughout this session
}

// PaymentsTransactorSession is an auto generated write-only Go binding around an Ethereum contract,
// with pre-set transact options.
type PaymentsTransactorSession struct {
	Contract     *PaymentsTransactor // Generic contract transactor binding to set the session for
	TransactOpts bind.TransactOpts   // Transaction auth options to use throughout this session
}

// PaymentsRaw is an auto generated low-level Go binding around an Ethereum contract.
type PaymentsRaw struct {
	Contract *Payments // Generic contract binding to access the raw methods on
}

// PaymentsCallerRaw is an auto generated low-level read-only Go binding around an Ethereum contract.
type PaymentsCallerRaw struct {
	Contract *PaymentsCaller // Generic read-only contract binding to access the raw methods on
}

// PaymentsTransactorRaw is an auto generated low-level write-only Go binding around an Ethereum contract.
type PaymentsTransactorRaw struct {
	Contract *PaymentsTransactor // Generic write-only contract binding to access the raw methods on
}

// NewPayments creates a new instance of Payments, bound to a specific deployed contract.
func NewPayments(address common.Address, backend bind.ContractBackend) (*Payments, error) {
	contract, err := bindPayments(address, backend, backend, backend)
	if err != nil {
		return nil, err
	}
	return &Payments{PaymentsCaller: PaymentsCaller{contract: contract}, PaymentsTransactor: PaymentsTransactor{contract: contract}, PaymentsFilterer: PaymentsFilterer{contract: contract}}, nil
}

// NewPaymentsCaller creates a new read-only instance of Payments, bound to a specific deployed contract.
func NewPaymentsCaller(address common.Address, caller bind.ContractCaller) (*PaymentsCaller, error) {
	contract, err := bindPayments(address, caller, nil, nil)
	if err != nil {
		return nil, err
	}
	return &PaymentsCaller{contract: contract}, nil
}

// NewPaymentsTransactor creates a new write-only instance of Payments, bound to a specific deployed contract.
func NewPaymentsTransactor(address common.Address, transactor bind.ContractTransactor) (*PaymentsTransactor, error) {
	contract, err := bindPayments(address, nil, transactor, nil)
	if err != nil {
		return nil, err
	}
	return &PaymentsTransactor{contract: contract}, nil
}

// NewPaymentsFilterer creates a new log filterer instance of Payments, bound to a specific deployed contract.
func NewPaymentsFilterer(address common.Address, filterer bind.ContractFilterer) (*PaymentsFilterer, error) {
	contract, err := bindPayments(address, nil, nil, filterer)
	if err != nil {
		return nil, err
	}
	return &PaymentsFilterer{contract: contract}, nil
}

// bindPayments binds a generic wrapper to an already deployed contract.
func bindPayments(address common.Address, caller bind.ContractCaller, transactor bind.ContractTransactor, filterer bind.ContractFilterer) (*bind.BoundContract, error) {
	parsed, err := PaymentsMetaData.GetAbi()
	if err != nil {
		return nil, err
	}
	return bind.NewBoundContract(address, *parsed, caller, transactor, filterer), nil
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_Payments *PaymentsRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _Payments.Contract.PaymentsCaller.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_Payments *PaymentsRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _Payments.Contract.PaymentsTransactor.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_Payments *PaymentsRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _Payments.Contract.PaymentsTransactor.contract.Transact(opts, method, params...)
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_Payments *PaymentsCallerRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _Payments.Contract.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_Payments *PaymentsTransactorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _Payments.Contract.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_Payments *PaymentsTransactorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _Payments.Contract.contract.Transact(opts, method, params...)
}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_Payments *PaymentsCaller) BalanceOf(opts *bind.CallOpts, arg0 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "balanceOf", arg0)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_Payments *PaymentsSession) BalanceOf(arg0 common.Address) (*big.Int, error) {
	return _Payments.Contract.BalanceOf(&_Payments.CallOpts, arg0)
}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_Payments *PaymentsCallerSession) BalanceOf(arg0 common.Address) (*big.Int, error) {
	return _Payments.Contract.BalanceOf(&_Payments.CallOpts, arg0)
}

// ChallengePeriod is a free data retrieval call binding the contract method 0xf3f480d9.
//
// Solidity: function challengePeriod() view returns(uint256)
func (_Payments *PaymentsCaller) ChallengePeriod(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "challengePeriod")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// ChallengePeriod is a free data retrieval call binding the contract method 0xf3f480d9.
//
// Solidity: function challengePeriod() view returns(uint256)
func (_Payments *PaymentsSession) ChallengePeriod() (*big.Int, error) {
	return _Payments.Contract.ChallengePeriod(&_Payments.CallOpts)
}

// ChallengePeriod is a free data retrieval call binding the contract method 0xf3f480d9.
//
// Solidity: function challengePeriod() view returns(uint256)
func (_Payments *PaymentsCallerSession) ChallengePeriod() (*big.Int, error) {
	return _Payments.Contract.ChallengePeriod(&_Payments.CallOpts)
}

// LaneNonce is a free data retrieval call binding the contract method 0xb62a8d52.
//
// Solidity: function laneNonce(address , address ) view returns(uint256)
func (_Payments *PaymentsCaller) LaneNonce(opts *bind.CallOpts, arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "laneNonce", arg0, arg1)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// LaneNonce is a free data retrieval call binding the contract method 0xb62a8d52.
//
// Solidity: function laneNonce(address , address ) view returns(uint256)
func (_Payments *PaymentsSession) LaneNonce(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _Payments.Contract.LaneNonce(&_Payments.CallOpts, arg0, arg1)
}

// LaneNonce is a free data retrieval call binding the contract method 0xb62a8d52.
//
// Solidity: function laneNonce(address , address ) view returns(uint256)
func (_Payments *PaymentsCallerSession) LaneNonce(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _Payments.Contract.LaneNonce(&_Payments.CallOpts, arg0, arg1)
}

// Lanes is a free data retrieval call binding the contract method 0x5af37a38.
//
// Solidity: function lanes(address , address ) view returns(uint256 amount, uint256 releaseAt)
func (_Payments *PaymentsCaller) Lanes(opts *bind.CallOpts, arg0 common.Address, arg1 common.Address) (struct {
	Amount    *big.Int
	ReleaseAt *big.Int
}, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "lanes", arg0, arg1)

	outstruct := new(struct {
		Amount    *big.Int
		ReleaseAt *big.Int
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.Amount = *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)
	outstruct.ReleaseAt = *abi.ConvertType(out[1], new(*big.Int)).(**big.Int)

	return *outstruct, err

}

// Lanes is a free data retrieval call binding the contract method 0x5af37a38.
//
// Solidity: function lanes(address , address ) view returns(uint256 amount, uint256 releaseAt)
func (_Payments *PaymentsSession) Lanes(arg0 common.Address, arg1 common.Address) (struct {
	Amount    *big.Int
	ReleaseAt *big.Int
}, error) {
	return _Payments.Contract.Lanes(&_Payments.CallOpts, arg0, arg1)
}

// Lanes is a free data retrieval call binding the contract method 0x5af37a38.
//
// Solidity: function lanes(address , address ) view returns(uint256 amount, uint256 releaseAt)
func (_Payments *PaymentsCallerSession) Lanes(arg0 common.Address, arg1 common.Address) (struct {
	Amount    *big.Int
	ReleaseAt *big.Int
}, error) {
	return _Payments.Contract.Lanes(&_Payments.CallOpts, arg0, arg1)
}

// Settled is a free data retrieval call binding the contract method 0x65b39968.
//
// Solidity: function settled(address , address ) view returns(uint256)
func (_Payments *PaymentsCaller) Settled(opts *bind.CallOpts, arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "settled", arg0, arg1)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// Settled is a free data retrieval call binding the contract method 0x65b39968.
//
// Solidity: function settled(address , address ) view returns(uint256)
func (_Payments *PaymentsSession) Settled(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _Payments.Contract.Settled(&_Payments.CallOpts, arg0, arg1)
}

// Settled is a free data retrieval call binding the contract method 0x65b39968.
//
// Solidity: function settled(address , address ) view returns(uint256)
func (_Payments *PaymentsCallerSession) Settled(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _Payments.Contract.Settled(&_Payments.CallOpts, arg0, arg1)
}

// Token is a free data retrieval call binding the contract method 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (_Payments *PaymentsCaller) Token(opts *bind.CallOpts) (common.Address, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "token")

	if err != nil {
		return *new(common.Address), err
	}

	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)

	return out0, err

}

// Token is a free data retrieval call binding the contract method 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (_Payments *PaymentsSession) Token() (common.Address, error) {
	return _Payments.Contract.Token(&_Payments.CallOpts)
}

// Token is a free data retrieval call binding the contract method 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (_Payments *PaymentsCallerSession) Token() (common.Address, error) {
	return _Payments.Contract.Token(&_Payments.CallOpts)
}

// WithdrawalNonce is a free data retrieval call binding the contract method 0x06044b36.
//
// Solidity: function withdrawalNonce(address ) view returns(uint256)
func (_Payments *PaymentsCaller) WithdrawalNonce(opts *bind.CallOpts, arg0 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "withdrawalNonce", arg0)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// WithdrawalNonce is a free data retrieval call binding the contract method 0x06044b36.
//
// Solidity: function withdrawalNonce(address ) view returns(uint256)
func (_Payments *PaymentsSession) WithdrawalNonce(arg0 common.Address) (*big.Int, error) {
	return _Payments.Contract.WithdrawalNonce(&_Payments.CallOpts, arg0)
}

// WithdrawalNonce is a free data retrieval call binding the contract method 0x06044b36.
//
// Solidity: function withdrawalNonce(address ) view returns(uint256)
func (_Payments *PaymentsCallerSession) WithdrawalNonce(arg0 common.Address) (*big.Int, error) {
	return _Payments.Contract.WithdrawalNonce(&_Payments.CallOpts, arg0)
}

// Withdrawals is a free data retrieval call binding the contract method 0x7a9262a2.
//
// Solidity: function withdrawals(address ) view returns(address to, uint256 availableAt)
func (_Payments *PaymentsCaller) Withdrawals(opts *bind.CallOpts, arg0 common.Address) (struct {
	To          common.Address
	AvailableAt *big.Int
}, error) {
	var out []interface{}
	err := _Payments.contract.Call(opts, &out, "withdrawals", arg0)

	outstruct := new(struct {
		To          common.Address
		AvailableAt *big.Int
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.To = *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	outstruct.AvailableAt = *abi.ConvertType(out[1], new(*big.Int)).(**big.Int)

	return *outstruct, err

}

// Withdrawals is a free data retrieval call binding the contract method 0x7a9262a2.
//
// Solidity: function withdrawals(address ) view returns(address to, uint256 availableAt)
func (_Payments *PaymentsSession) Withdrawals(arg0 common.Address) (struct {
	To          common.Address
	AvailableAt *big.Int
}, error) {
	return _Payments.Contract.Withdrawals(&_Payments.CallOpts, arg0)
}

// Withdrawals is a free data retrieval call binding the contract method 0x7a9262a2.
//
// Solidity: function withdrawals(address ) view returns(address to, uint256 availableAt)
func (_Payments *PaymentsCallerSession) Withdrawals(arg0 common.Address) (struct {
	To          common.Address
	AvailableAt *big.Int
}, error) {
	return _Payments.Contract.Withdrawals(&_Payments.CallOpts, arg0)
}

// Deposit is a paid mutator transaction binding the contract method 0x47e7ef24.
//
// Solidity: function deposit(address consumer, uint256 amount) returns()
func (_Payments *PaymentsTransactor) Deposit(opts *bind.TransactOpts, consumer common.Address, amount *big.Int) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "deposit", consumer, amount)
}

// Deposit is a paid mutator transaction binding the contract method 0x47e7ef24.
//
// Solidity: function deposit(address consumer, uint256 amount) returns()
func (_Payments *PaymentsSession) Deposit(consumer common.Address, amount *big.Int) (*types.Transaction, error) {
	return _Payments.Contract.Deposit(&_Payments.TransactOpts, consumer, amount)
}

// Deposit is a paid mutator transaction binding the contract method 0x47e7ef24.
//
// Solidity: function deposit(address consumer, uint256 amount) returns()
func (_Payments *PaymentsTransactorSession) Deposit(consumer common.Address, amount *big.Int) (*types.Transaction, error) {
	return _Payments.Contract.Deposit(&_Payments.TransactOpts, consumer, amount)
}

// ReleaseLane is a paid mutator transaction binding the contract method 0x914e1a47.
//
// Solidity: function releaseLane(address consumer, address provider) returns(uint256 amount)
func (_Payments *PaymentsTransactor) ReleaseLane(opts *bind.TransactOpts, consumer common.Address, provider common.Address) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "releaseLane", consumer, provider)
}

// ReleaseLane is a paid mutator transaction binding the contract method 0x914e1a47.
//
// Solidity: function releaseLane(address consumer, address provider) returns(uint256 amount)
func (_Payments *PaymentsSession) ReleaseLane(consumer common.Address, provider common.Address) (*types.Transaction, error) {
	return _Payments.Contract.ReleaseLane(&_Payments.TransactOpts, consumer, provider)
}

// ReleaseLane is a paid mutator transaction binding the contract method 0x914e1a47.
//
// Solidity: function releaseLane(address consumer, address provider) returns(uint256 amount)
func (_Payments *PaymentsTransactorSession) ReleaseLane(consumer common.Address, provider common.Address) (*types.Transaction, error) {
	return _Payments.Contract.ReleaseLane(&_Payments.TransactOpts, consumer, provider)
}

// RequestLaneRelease is a paid mutator transaction binding the contract method 0x776b018c.
//
// Solidity: function requestLaneRelease(address consumer, address provider, bytes signature) returns()
func (_Payments *PaymentsTransactor) RequestLaneRelease(opts *bind.TransactOpts, consumer common.Address, provider common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "requestLaneRelease", consumer, provider, signature)
}

// RequestLaneRelease is a paid mutator transaction binding the contract method 0x776b018c.
//
// Solidity: function requestLaneRelease(address consumer, address provider, bytes signature) returns()
func (_Payments *PaymentsSession) RequestLaneRelease(consumer common.Address, provider common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.RequestLaneRelease(&_Payments.TransactOpts, consumer, provider, signature)
}

// RequestLaneRelease is a paid mutator transaction binding the contract method 0x776b018c.
//
// Solidity: function requestLaneRelease(address consumer, address provider, bytes signature) returns()
func (_Payments *PaymentsTransactorSession) RequestLaneRelease(consumer common.Address, provider common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.RequestLaneRelease(&_Payments.TransactOpts, consumer, provider, signature)
}

// RequestWithdrawal is a paid mutator transaction binding the contract method 0xe8798a42.
//
// Solidity: function requestWithdrawal(address consumer, address to, bytes signature) returns()
func (_Payments *PaymentsTransactor) RequestWithdrawal(opts *bind.TransactOpts, consumer common.Address, to common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "requestWithdrawal", consumer, to, signature)
}

// RequestWithdrawal is a paid mutator transaction binding the contract method 0xe8798a42.
//
// Solidity: function requestWithdrawal(address consumer, address to, bytes signature) returns()
func (_Payments *PaymentsSession) RequestWithdrawal(consumer common.Address, to common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.RequestWithdrawal(&_Payments.TransactOpts, consumer, to, signature)
}

// RequestWithdrawal is a paid mutator transaction binding the contract method 0xe8798a42.
//
// Solidity: function requestWithdrawal(address consumer, address to, bytes signature) returns()
func (_Payments *PaymentsTransactorSession) RequestWithdrawal(consumer common.Address, to common.Address, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.RequestWithdrawal(&_Payments.TransactOpts, consumer, to, signature)
}

// Reserve is a paid mutator transaction binding the contract method 0x5958f950.
//
// Solidity: function reserve(address consumer, address provider, uint256 amount, bytes signature) returns()
func (_Payments *PaymentsTransactor) Reserve(opts *bind.TransactOpts, consumer common.Address, provider common.Address, amount *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "reserve", consumer, provider, amount, signature)
}

// Reserve is a paid mutator transaction binding the contract method 0x5958f950.
//
// Solidity: function reserve(address consumer, address provider, uint256 amount, bytes signature) returns()
func (_Payments *PaymentsSession) Reserve(consumer common.Address, provider common.Address, amount *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.Reserve(&_Payments.TransactOpts, consumer, provider, amount, signature)
}

// Reserve is a paid mutator transaction binding the contract method 0x5958f950.
//
// Solidity: function reserve(address consumer, address provider, uint256 amount, bytes signature) returns()
func (_Payments *PaymentsTransactorSession) Reserve(consumer common.Address, provider common.Address, amount *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.Reserve(&_Payments.TransactOpts, consumer, provider, amount, signature)
}

// Settle is a paid mutator transaction binding the contract method 0x99bb07b8.
//
// Solidity: function settle(address consumer, address provider, uint256 cumulative, bytes signature) returns(uint256 paid)
func (_Payments *PaymentsTransactor) Settle(opts *bind.TransactOpts, consumer common.Address, provider common.Address, cumulative *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "settle", consumer, provider, cumulative, signature)
}

// Settle is a paid mutator transaction binding the contract method 0x99bb07b8.
//
// Solidity: function settle(address consumer, address provider, uint256 cumulative, bytes signature) returns(uint256 paid)
func (_Payments *PaymentsSession) Settle(consumer common.Address, provider common.Address, cumulative *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.Settle(&_Payments.TransactOpts, consumer, provider, cumulative, signature)
}

// Settle is a paid mutator transaction binding the contract method 0x99bb07b8.
//
// Solidity: function settle(address consumer, address provider, uint256 cumulative, bytes signature) returns(uint256 paid)
func (_Payments *PaymentsTransactorSession) Settle(consumer common.Address, provider common.Address, cumulative *big.Int, signature []byte) (*types.Transaction, error) {
	return _Payments.Contract.Settle(&_Payments.TransactOpts, consumer, provider, cumulative, signature)
}

// Withdraw is a paid mutator transaction binding the contract method 0x51cff8d9.
//
// Solidity: function withdraw(address consumer) returns(uint256 amount)
func (_Payments *PaymentsTransactor) Withdraw(opts *bind.TransactOpts, consumer common.Address) (*types.Transaction, error) {
	return _Payments.contract.Transact(opts, "withdraw", consumer)
}

// Withdraw is a paid mutator transaction binding the contract method 0x51cff8d9.
//
// Solidity: function withdraw(address consumer) returns(uint256 amount)
func (_Payments *PaymentsSession) Withdraw(consumer common.Address) (*types.Transaction, error) {
	return _Payments.Contract.Withdraw(&_Payments.TransactOpts, consumer)
}

// Withdraw is a paid mutator transaction binding the contract method 0x51cff8d9.
//
// Solidity: function withdraw(address consumer) returns(uint256 amount)
func (_Payments *PaymentsTransactorSession) Withdraw(consumer common.Address) (*types.Transaction, error) {
	return _Payments.Contract.Withdraw(&_Payments.TransactOpts, consumer)
}

// PaymentsDepositedIterator is returned from FilterDeposited and is used to iterate over the raw logs and unpacked data for Deposited events raised by the Payments contract.
type PaymentsDepositedIterator struct {
	Event *PaymentsDeposited // Event containing the contract specifics and raw log

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
func (it *PaymentsDepositedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsDeposited)
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
		it.Event = new(PaymentsDeposited)
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
func (it *PaymentsDepositedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsDepositedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsDeposited represents a Deposited event raised by the Payments contract.
type PaymentsDeposited struct {
	Consumer common.Address
	From     common.Address
	Amount   *big.Int
	Balance  *big.Int
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterDeposited is a free log retrieval operation binding the contract event 0xf5681f9d0db1b911ac18ee83d515a1cf1051853a9eae418316a2fdf7dea427c5.
//
// Solidity: event Deposited(address indexed consumer, address indexed from, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) FilterDeposited(opts *bind.FilterOpts, consumer []common.Address, from []common.Address) (*PaymentsDepositedIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var fromRule []interface{}
	for _, fromItem := range from {
		fromRule = append(fromRule, fromItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "Deposited", consumerRule, fromRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsDepositedIterator{contract: _Payments.contract, event: "Deposited", logs: logs, sub: sub}, nil
}

// WatchDeposited is a free log subscription operation binding the contract event 0xf5681f9d0db1b911ac18ee83d515a1cf1051853a9eae418316a2fdf7dea427c5.
//
// Solidity: event Deposited(address indexed consumer, address indexed from, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) WatchDeposited(opts *bind.WatchOpts, sink chan<- *PaymentsDeposited, consumer []common.Address, from []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var fromRule []interface{}
	for _, fromItem := range from {
		fromRule = append(fromRule, fromItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "Deposited", consumerRule, fromRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsDeposited)
				if err := _Payments.contract.UnpackLog(event, "Deposited", log); err != nil {
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

// ParseDeposited is a log parse operation binding the contract event 0xf5681f9d0db1b911ac18ee83d515a1cf1051853a9eae418316a2fdf7dea427c5.
//
// Solidity: event Deposited(address indexed consumer, address indexed from, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) ParseDeposited(log types.Log) (*PaymentsDeposited, error) {
	event := new(PaymentsDeposited)
	if err := _Payments.contract.UnpackLog(event, "Deposited", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsLaneReleaseRequestedIterator is returned from FilterLaneReleaseRequested and is used to iterate over the raw logs and unpacked data for LaneReleaseRequested events raised by the Payments contract.
type PaymentsLaneReleaseRequestedIterator struct {
	Event *PaymentsLaneReleaseRequested // Event containing the contract specifics and raw log

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
func (it *PaymentsLaneReleaseRequestedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsLaneReleaseRequested)
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
		it.Event = new(PaymentsLaneReleaseRequested)
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
func (it *PaymentsLaneReleaseRequestedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsLaneReleaseRequestedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsLaneReleaseRequested represents a LaneReleaseRequested event raised by the Payments contract.
type PaymentsLaneReleaseRequested struct {
	Consumer  common.Address
	Provider  common.Address
	ReleaseAt *big.Int
	Raw       types.Log // Blockchain specific contextual infos
}

// FilterLaneReleaseRequested is a free log retrieval operation binding the contract event 0xf1b06a08ad105b6ee5df65f81c427481c19bda4ecc0579612ccce16ca81c422b.
//
// Solidity: event LaneReleaseRequested(address indexed consumer, address indexed provider, uint256 releaseAt)
func (_Payments *PaymentsFilterer) FilterLaneReleaseRequested(opts *bind.FilterOpts, consumer []common.Address, provider []common.Address) (*PaymentsLaneReleaseRequestedIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "LaneReleaseRequested", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsLaneReleaseRequestedIterator{contract: _Payments.contract, event: "LaneReleaseRequested", logs: logs, sub: sub}, nil
}

// WatchLaneReleaseRequested is a free log subscription operation binding the contract event 0xf1b06a08ad105b6ee5df65f81c427481c19bda4ecc0579612ccce16ca81c422b.
//
// Solidity: event LaneReleaseRequested(address indexed consumer, address indexed provider, uint256 releaseAt)
func (_Payments *PaymentsFilterer) WatchLaneReleaseRequested(opts *bind.WatchOpts, sink chan<- *PaymentsLaneReleaseRequested, consumer []common.Address, provider []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "LaneReleaseRequested", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsLaneReleaseRequested)
				if err := _Payments.contract.UnpackLog(event, "LaneReleaseRequested", log); err != nil {
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

// ParseLaneReleaseRequested is a log parse operation binding the contract event 0xf1b06a08ad105b6ee5df65f81c427481c19bda4ecc0579612ccce16ca81c422b.
//
// Solidity: event LaneReleaseRequested(address indexed consumer, address indexed provider, uint256 releaseAt)
func (_Payments *PaymentsFilterer) ParseLaneReleaseRequested(log types.Log) (*PaymentsLaneReleaseRequested, error) {
	event := new(PaymentsLaneReleaseRequested)
	if err := _Payments.contract.UnpackLog(event, "LaneReleaseRequested", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsLaneReleasedIterator is returned from FilterLaneReleased and is used to iterate over the raw logs and unpacked data for LaneReleased events raised by the Payments contract.
type PaymentsLaneReleasedIterator struct {
	Event *PaymentsLaneReleased // Event containing the contract specifics and raw log

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
func (it *PaymentsLaneReleasedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsLaneReleased)
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
		it.Event = new(PaymentsLaneReleased)
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
func (it *PaymentsLaneReleasedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsLaneReleasedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsLaneReleased represents a LaneReleased event raised by the Payments contract.
type PaymentsLaneReleased struct {
	Consumer common.Address
	Provider common.Address
	Amount   *big.Int
	Balance  *big.Int
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterLaneReleased is a free log retrieval operation binding the contract event 0x1763affdfb5554b22269a44af8539027d8657b3c3c756f9d9a62864589e492f5.
//
// Solidity: event LaneReleased(address indexed consumer, address indexed provider, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) FilterLaneReleased(opts *bind.FilterOpts, consumer []common.Address, provider []common.Address) (*PaymentsLaneReleasedIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "LaneReleased", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsLaneReleasedIterator{contract: _Payments.contract, event: "LaneReleased", logs: logs, sub: sub}, nil
}

// WatchLaneReleased is a free log subscription operation binding the contract event 0x1763affdfb5554b22269a44af8539027d8657b3c3c756f9d9a62864589e492f5.
//
// Solidity: event LaneReleased(address indexed consumer, address indexed provider, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) WatchLaneReleased(opts *bind.WatchOpts, sink chan<- *PaymentsLaneReleased, consumer []common.Address, provider []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "LaneReleased", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsLaneReleased)
				if err := _Payments.contract.UnpackLog(event, "LaneReleased", log); err != nil {
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

// ParseLaneReleased is a log parse operation binding the contract event 0x1763affdfb5554b22269a44af8539027d8657b3c3c756f9d9a62864589e492f5.
//
// Solidity: event LaneReleased(address indexed consumer, address indexed provider, uint256 amount, uint256 balance)
func (_Payments *PaymentsFilterer) ParseLaneReleased(log types.Log) (*PaymentsLaneReleased, error) {
	event := new(PaymentsLaneReleased)
	if err := _Payments.contract.UnpackLog(event, "LaneReleased", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsLaneReservedIterator is returned from FilterLaneReserved and is used to iterate over the raw logs and unpacked data for LaneReserved events raised by the Payments contract.
type PaymentsLaneReservedIterator struct {
	Event *PaymentsLaneReserved // Event containing the contract specifics and raw log

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
func (it *PaymentsLaneReservedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsLaneReserved)
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
		it.Event = new(PaymentsLaneReserved)
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
func (it *PaymentsLaneReservedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsLaneReservedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsLaneReserved represents a LaneReserved event raised by the Payments contract.
type PaymentsLaneReserved struct {
	Consumer common.Address
	Provider common.Address
	Amount   *big.Int
	Lane     *big.Int
	Balance  *big.Int
	Nonce    *big.Int
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterLaneReserved is a free log retrieval operation binding the contract event 0x43ab39639ad1e587e5be2eb82187ed816e21ddcc39e119baf5664b968ae74af8.
//
// Solidity: event LaneReserved(address indexed consumer, address indexed provider, uint256 amount, uint256 lane, uint256 balance, uint256 nonce)
func (_Payments *PaymentsFilterer) FilterLaneReserved(opts *bind.FilterOpts, consumer []common.Address, provider []common.Address) (*PaymentsLaneReservedIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "LaneReserved", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsLaneReservedIterator{contract: _Payments.contract, event: "LaneReserved", logs: logs, sub: sub}, nil
}

// WatchLaneReserved is a free log subscription operation binding the contract event 0x43ab39639ad1e587e5be2eb82187ed816e21ddcc39e119baf5664b968ae74af8.
//
// Solidity: event LaneReserved(address indexed consumer, address indexed provider, uint256 amount, uint256 lane, uint256 balance, uint256 nonce)
func (_Payments *PaymentsFilterer) WatchLaneReserved(opts *bind.WatchOpts, sink chan<- *PaymentsLaneReserved, consumer []common.Address, provider []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "LaneReserved", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsLaneReserved)
				if err := _Payments.contract.UnpackLog(event, "LaneReserved", log); err != nil {
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

// ParseLaneReserved is a log parse operation binding the contract event 0x43ab39639ad1e587e5be2eb82187ed816e21ddcc39e119baf5664b968ae74af8.
//
// Solidity: event LaneReserved(address indexed consumer, address indexed provider, uint256 amount, uint256 lane, uint256 balance, uint256 nonce)
func (_Payments *PaymentsFilterer) ParseLaneReserved(log types.Log) (*PaymentsLaneReserved, error) {
	event := new(PaymentsLaneReserved)
	if err := _Payments.contract.UnpackLog(event, "LaneReserved", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsSettledIterator is returned from FilterSettled and is used to iterate over the raw logs and unpacked data for Settled events raised by the Payments contract.
type PaymentsSettledIterator struct {
	Event *PaymentsSettled // Event containing the contract specifics and raw log

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
func (it *PaymentsSettledIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsSettled)
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
		it.Event = new(PaymentsSettled)
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
func (it *PaymentsSettledIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsSettledIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsSettled represents a Settled event raised by the Payments contract.
type PaymentsSettled struct {
	Consumer   common.Address
	Provider   common.Address
	Cumulative *big.Int
	Paid       *big.Int
	Lane       *big.Int
	Balance    *big.Int
	Raw        types.Log // Blockchain specific contextual infos
}

// FilterSettled is a free log retrieval operation binding the contract event 0xc55b9641992f9262cb712fb65ffda5cbbb1b54fa323a13bae8eda7d66350656e.
//
// Solidity: event Settled(address indexed consumer, address indexed provider, uint256 cumulative, uint256 paid, uint256 lane, uint256 balance)
func (_Payments *PaymentsFilterer) FilterSettled(opts *bind.FilterOpts, consumer []common.Address, provider []common.Address) (*PaymentsSettledIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "Settled", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsSettledIterator{contract: _Payments.contract, event: "Settled", logs: logs, sub: sub}, nil
}

// WatchSettled is a free log subscription operation binding the contract event 0xc55b9641992f9262cb712fb65ffda5cbbb1b54fa323a13bae8eda7d66350656e.
//
// Solidity: event Settled(address indexed consumer, address indexed provider, uint256 cumulative, uint256 paid, uint256 lane, uint256 balance)
func (_Payments *PaymentsFilterer) WatchSettled(opts *bind.WatchOpts, sink chan<- *PaymentsSettled, consumer []common.Address, provider []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}
	var providerRule []interface{}
	for _, providerItem := range provider {
		providerRule = append(providerRule, providerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "Settled", consumerRule, providerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsSettled)
				if err := _Payments.contract.UnpackLog(event, "Settled", log); err != nil {
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

// ParseSettled is a log parse operation binding the contract event 0xc55b9641992f9262cb712fb65ffda5cbbb1b54fa323a13bae8eda7d66350656e.
//
// Solidity: event Settled(address indexed consumer, address indexed provider, uint256 cumulative, uint256 paid, uint256 lane, uint256 balance)
func (_Payments *PaymentsFilterer) ParseSettled(log types.Log) (*PaymentsSettled, error) {
	event := new(PaymentsSettled)
	if err := _Payments.contract.UnpackLog(event, "Settled", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsWithdrawalRequestedIterator is returned from FilterWithdrawalRequested and is used to iterate over the raw logs and unpacked data for WithdrawalRequested events raised by the Payments contract.
type PaymentsWithdrawalRequestedIterator struct {
	Event *PaymentsWithdrawalRequested // Event containing the contract specifics and raw log

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
func (it *PaymentsWithdrawalRequestedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsWithdrawalRequested)
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
		it.Event = new(PaymentsWithdrawalRequested)
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
func (it *PaymentsWithdrawalRequestedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsWithdrawalRequestedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsWithdrawalRequested represents a WithdrawalRequested event raised by the Payments contract.
type PaymentsWithdrawalRequested struct {
	Consumer    common.Address
	To          common.Address
	AvailableAt *big.Int
	Raw         types.Log // Blockchain specific contextual infos
}

// FilterWithdrawalRequested is a free log retrieval operation binding the contract event 0x04c56a409d50971e45c5a2d96e5d557d2b0f1d66d40f14b141e4c958b0f39b32.
//
// Solidity: event WithdrawalRequested(address indexed consumer, address to, uint256 availableAt)
func (_Payments *PaymentsFilterer) FilterWithdrawalRequested(opts *bind.FilterOpts, consumer []common.Address) (*PaymentsWithdrawalRequestedIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "WithdrawalRequested", consumerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsWithdrawalRequestedIterator{contract: _Payments.contract, event: "WithdrawalRequested", logs: logs, sub: sub}, nil
}

// WatchWithdrawalRequested is a free log subscription operation binding the contract event 0x04c56a409d50971e45c5a2d96e5d557d2b0f1d66d40f14b141e4c958b0f39b32.
//
// Solidity: event WithdrawalRequested(address indexed consumer, address to, uint256 availableAt)
func (_Payments *PaymentsFilterer) WatchWithdrawalRequested(opts *bind.WatchOpts, sink chan<- *PaymentsWithdrawalRequested, consumer []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "WithdrawalRequested", consumerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsWithdrawalRequested)
				if err := _Payments.contract.UnpackLog(event, "WithdrawalRequested", log); err != nil {
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

// ParseWithdrawalRequested is a log parse operation binding the contract event 0x04c56a409d50971e45c5a2d96e5d557d2b0f1d66d40f14b141e4c958b0f39b32.
//
// Solidity: event WithdrawalRequested(address indexed consumer, address to, uint256 availableAt)
func (_Payments *PaymentsFilterer) ParseWithdrawalRequested(log types.Log) (*PaymentsWithdrawalRequested, error) {
	event := new(PaymentsWithdrawalRequested)
	if err := _Payments.contract.UnpackLog(event, "WithdrawalRequested", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// PaymentsWithdrawnIterator is returned from FilterWithdrawn and is used to iterate over the raw logs and unpacked data for Withdrawn events raised by the Payments contract.
type PaymentsWithdrawnIterator struct {
	Event *PaymentsWithdrawn // Event containing the contract specifics and raw log

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
func (it *PaymentsWithdrawnIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(PaymentsWithdrawn)
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
		it.Event = new(PaymentsWithdrawn)
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
func (it *PaymentsWithdrawnIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *PaymentsWithdrawnIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// PaymentsWithdrawn represents a Withdrawn event raised by the Payments contract.
type PaymentsWithdrawn struct {
	Consumer common.Address
	To       common.Address
	Amount   *big.Int
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterWithdrawn is a free log retrieval operation binding the contract event 0xd1c19fbcd4551a5edfb66d43d2e337c04837afda3482b42bdf569a8fccdae5fb.
//
// Solidity: event Withdrawn(address indexed consumer, address to, uint256 amount)
func (_Payments *PaymentsFilterer) FilterWithdrawn(opts *bind.FilterOpts, consumer []common.Address) (*PaymentsWithdrawnIterator, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}

	logs, sub, err := _Payments.contract.FilterLogs(opts, "Withdrawn", consumerRule)
	if err != nil {
		return nil, err
	}
	return &PaymentsWithdrawnIterator{contract: _Payments.contract, event: "Withdrawn", logs: logs, sub: sub}, nil
}

// WatchWithdrawn is a free log subscription operation binding the contract event 0xd1c19fbcd4551a5edfb66d43d2e337c04837afda3482b42bdf569a8fccdae5fb.
//
// Solidity: event Withdrawn(address indexed consumer, address to, uint256 amount)
func (_Payments *PaymentsFilterer) WatchWithdrawn(opts *bind.WatchOpts, sink chan<- *PaymentsWithdrawn, consumer []common.Address) (event.Subscription, error) {

	var consumerRule []interface{}
	for _, consumerItem := range consumer {
		consumerRule = append(consumerRule, consumerItem)
	}

	logs, sub, err := _Payments.contract.WatchLogs(opts, "Withdrawn", consumerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(PaymentsWithdrawn)
				if err := _Payments.contract.UnpackLog(event, "Withdrawn", log); err != nil {
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

// ParseWithdrawn is a log parse operation binding the contract event 0xd1c19fbcd4551a5edfb66d43d2e337c04837afda3482b42bdf569a8fccdae5fb.
//
// Solidity: event Withdrawn(address indexed consumer, address to, uint256 amount)
func (_Payments *PaymentsFilterer) ParseWithdrawn(log types.Log) (*PaymentsWithdrawn, error) {
	event := new(PaymentsWithdrawn)
	if err := _Payments.contract.UnpackLog(event, "Withdrawn", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}
