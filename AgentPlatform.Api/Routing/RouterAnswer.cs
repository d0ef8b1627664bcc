using AgentPlatform.ServiceDefaults.Usage;

namespace AgentPlatform.Api.Routing;

/// <summary>What the Api learned from the Router's answer to a chat completion, for limits and the usage ledger.</summary>
public sealed class RouterAnswer
{
    /// <summary>The deployment that answered, if one did.</summary>
    public string? Deployment { get; set; }

    /// <summary>The answering deployment's prices.</summary>
    public Prices? Prices { get; set; }

    /// <summary>The usage the Router reported; null when none arrived (the client or the connection went first).</summary>
    public UsageReport? Usage { get; set; }

    /// <summary>Events with answer text passed to the client: about one token each, for an estimate when no usage arrived.</summary>
    public int ContentEvents { get; set; }

    public double? OverheadMs { get; set; }

    /// <summary>The Router's answer broke off (its connection failed) and the client's response was aborted.</summary>
    public bool Broken { get; set; }
}
