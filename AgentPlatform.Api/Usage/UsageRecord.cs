using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// One request, as the usage ledger keeps it: who made it, what it used and cost, how long it took,
/// how it ended. Written for every chat completion — answered, failed, refused, cached, streamed or
/// abandoned by the client. The field names are the admin API's contract.
/// </summary>
public sealed class UsageRecord
{
    /// <summary>The ledger's own id for the record, unique even when a client reuses a request id; writes are idempotent on it.</summary>
    public string Id { get; set; } = Guid.CreateVersion7().ToString("N");

    public string RequestId { get; set; } = "";

    /// <summary>The request's trace, when it was sampled: the console links it to the Aspire dashboard.</summary>
    public string? TraceId { get; set; }

    public DateTimeOffset Time { get; set; }

    public string? TenantId { get; set; }

    public string? KeyId { get; set; }

    /// <summary>
    /// The model group, once the key may use it and the pool knows it; <see cref="UnknownModel"/> before:
    /// a client's made-up names must not become stored data (records, roll-ups).
    /// </summary>
    public string? Model { get; set; } = UnknownModel;

    public const string UnknownModel = "unknown";

    /// <summary>The door the request came through: <c>chat.completions</c>, <c>embeddings</c> or <c>messages</c> (records from before doors were kept say none: chat completions).</summary>
    public string? Door { get; set; }

    /// <summary>The deployment that answered, when one did.</summary>
    public string? Deployment { get; set; }

    public long PromptTokens { get; set; }

    /// <summary>Prompt tokens the provider served from its prompt cache (included in <see cref="PromptTokens"/>).</summary>
    public long CachedTokens { get; set; }

    /// <summary>Prompt tokens the provider wrote to its prompt cache (included in <see cref="PromptTokens"/>; priced at the cache-write price).</summary>
    public long CacheWriteTokens { get; set; }

    public long CompletionTokens { get; set; }

    /// <summary>True when the provider reported no usage and the tokens are the platform's estimate.</summary>
    public bool Estimated { get; set; }

    public decimal CostUsd { get; set; }

    /// <summary>From the request's arrival to the last byte of its answer.</summary>
    public double LatencyMs { get; set; }

    /// <summary>Time spent in the platform rather than upstream.</summary>
    public double? OverheadMs { get; set; }

    /// <summary>For a stream: from the request's arrival until its first content reached the client.</summary>
    public double? TimeToFirstTokenMs { get; set; }

    /// <summary>The HTTP status the client got.</summary>
    public int Status { get; set; }

    /// <summary>How it ended: see <see cref="UsageOutcomes"/>.</summary>
    public string Outcome { get; set; } = UsageOutcomes.Success;

    /// <summary><c>hit</c>, <c>miss</c> or <c>bypass</c>, as the <c>x-agentplatform-cache</c> header said.</summary>
    public string Cache { get; set; } = "bypass";

    public bool Stream { get; set; }

    /// <summary>For a cache hit: the tokens the answer took when it was made, which this request did not spend.</summary>
    public long SavedTokens { get; set; }

    /// <summary>For a cache hit: what the answer cost when it was made, which this request did not pay.</summary>
    public decimal SavedCostUsd { get; set; }

    /// <summary>For the records of an agent run (each model step and the run's summary): the run's id.</summary>
    public string? RunId { get; set; }

    /// <summary>For the records of an agent run: the agent's name.</summary>
    public string? Agent { get; set; }

    /// <summary>For a model step of an agent run: its number in the run, from 1.</summary>
    public int? Step { get; set; }

    /// <summary>
    /// Only on an agent run's summary record, which carries no tokens or cost of its own (its steps'
    /// records do, so that a run's records add up to its cost): the run's totals and how it ended.
    /// </summary>
    public AgentRunTotals? Run { get; set; }

    [JsonIgnore]
    public long TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>An agent run's totals, on its summary record.</summary>
public sealed record AgentRunTotals(int AgentVersion, string Status, string? StopReason, int Steps, int ToolCalls, long PromptTokens, long CompletionTokens, decimal CostUsd);

public static class UsageOutcomes
{
    public const string Success = "success";

    /// <summary>The request was refused before it reached a provider (key, limits, budget, bad input).</summary>
    public const string Refused = "refused";

    /// <summary>The providers failed it (or the Router could not be reached).</summary>
    public const string Error = "error";

    /// <summary>A stream broke after it began and was ended with an error event.</summary>
    public const string Interrupted = "interrupted";

    /// <summary>The client went away before its answer ended.</summary>
    public const string ClientAborted = "client_aborted";

    /// <summary>An agent run's summary only: a safeguard stopped the run (its steps' records say how each step ended).</summary>
    public const string Stopped = "stopped";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UsageRecord))]
internal sealed partial class UsageJsonContext : JsonSerializerContext;
