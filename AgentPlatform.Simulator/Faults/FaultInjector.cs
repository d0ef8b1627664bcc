using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Faults;

/// <summary>
/// The faults in force. Each request rolls once per active fault, in the order the faults were set;
/// the first that hits is injected.
/// </summary>
public sealed class FaultInjector
{
    private readonly Lock _lock = new();
    private readonly Random _random;
    private FaultSpec[] _faults;

    public FaultInjector(IOptions<SimulatorOptions> options, Random random)
    {
        _random = random;
        _faults = options.Value.Faults.Where(f => f.Rate > 0).ToArray();
    }

    public IReadOnlyList<FaultSpec> Current => Volatile.Read(ref _faults);

    /// <summary>Sets the rate of one kind; a rate of 0 removes it.</summary>
    public void Set(FaultSpec fault)
    {
        lock (_lock)
        {
            var others = _faults.Where(f => f.Kind != fault.Kind);
            _faults = (fault.Rate > 0 ? others.Append(fault) : others).ToArray();
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _faults = [];
        }
    }

    /// <summary>Counts a use of a fault with a <see cref="FaultSpec.Count"/>, removing it at its last; false when it is used up.</summary>
    private bool TakeOne(FaultSpec fault)
    {
        lock (_lock)
        {
            if (fault.Count is not > 0)
            {
                return false;
            }
            fault.Count--;
            if (fault.Count == 0)
            {
                _faults = _faults.Where(f => f != fault).ToArray();
            }
            return true;
        }
    }

    /// <summary>The fault to inject into the request with this body, if any.</summary>
    public FaultSpec? Roll(ReadOnlySpan<byte> body)
    {
        var faults = Volatile.Read(ref _faults);
        if (faults.Length == 0)
        {
            return null;
        }
        foreach (var fault in faults)
        {
            if (!fault.Matches(body))
            {
                continue;
            }
            double roll;
            lock (_random)
            {
                roll = _random.NextDouble();
            }
            if (roll < fault.Rate && (fault.Count is null || TakeOne(fault)))
            {
                return fault;
            }
        }
        return null;
    }
}
