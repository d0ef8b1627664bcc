using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentPlatform.Api.Usage;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// One run of an agent, as <c>POST /v1/agents/{name}/runs</c> answers it and <c>GET /v1/agents/runs/{id}</c>
/// reads it back: what it produced, each step (model calls and tool calls, in order), what it used and
/// cost, and how it ended.
/// </summary>
public sealed class AgentRun
{
    public string Id { get; init; } = "run_" + Guid.CreateVersion7().ToString("N");

    public string Object => "agent.run";

    public string Agent { get; init; } = "";

    /// <summary>The version of the agent's definition the run used.</summary>
    public int AgentVersion { get; init; }

    /// <summary>The conversation: pass it as <c>threadId</c> to continue from where this run ended.</summary>
    public string ThreadId { get; set; } = "";

    public string RequestId { get; init; } = "";

    public string? TenantId { get; init; }

    public string? KeyId { get; init; }

    /// <summary>See <see cref="AgentRunStatuses"/>.</summary>
    public string Status { get; set; } = AgentRunStatuses.Running;

    /// <summary>Why a <c>stopped</c> run stopped: <c>max_steps</c>, <c>max_tokens</c>, <c>max_cost</c>, <c>repeated_tool_call</c>, <c>budget_exceeded</c>, <c>rate_limited</c>…</summary>
    public string? StopReason { get; set; }

    /// <summary>For a stopped or failed run: what stopped it, in words.</summary>
    public string? Error { get; set; }

    /// <summary>The text the model wrote — all of it so far, for a run that stopped.</summary>
    public string Output { get; set; } = "";

    public List<AgentRunStep> Steps { get; init; } = [];

    public AgentRunUsage Usage { get; init; } = new();

    public decimal CostUsd { get; set; }

    public double LatencyMs { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>A usage record of this run (a step's, or its summary), with whose run it is filled in.</summary>
    internal UsageRecord NewRecord(Activity? span, DateTimeOffset time, string model) => new()
    {
        RequestId = RequestId,
        TraceId = span is { Recorded: true } ? span.TraceId.ToHexString() : null,
        Time = time,
        TenantId = TenantId,
        KeyId = KeyId,
        Model = model,
        RunId = Id,
        Agent = Agent,
    };

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

public static class AgentRunStatuses
{
    public const string Running = "running";
    public const string Completed = "completed";

    /// <summary>A safeguard ended it (see <see cref="AgentRun.StopReason"/>); what it produced so far is kept.</summary>
    public const string Stopped = "stopped";

    /// <summary>The pool or a tool server could not serve it.</summary>
    public const string Failed = "failed";
}

/// <summary>A model call (<c>type: model</c>) or a tool call (<c>type: tool</c>) of a run.</summary>
public sealed class AgentRunStep
{
    public int Index { get; init; }

    /// <summary><see cref="ModelType"/> or <see cref="ToolType"/>.</summary>
    public string Type { get; init; } = ModelType;

    public const string ModelType = "model";
    public const string ToolType = "tool";

    // A model step
    public string? Model { get; init; }

    public string? Deployment { get; set; }

    public long? PromptTokens { get; set; }

    public long? CompletionTokens { get; set; }

    public decimal? CostUsd { get; set; }

    /// <summary>The text the model wrote in this step.</summary>
    public string? Text { get; set; }

    /// <summary>The tools the model asked for in this step.</summary>
    public List<AgentToolCall>? ToolCalls { get; set; }

    // A tool step
    public string? Tool { get; init; }

    public string? CallId { get; init; }

    public string? Arguments { get; init; }

    public string? Result { get; set; }

    public bool? IsError { get; set; }

    public double LatencyMs { get; set; }

    /// <summary>For a model step that failed: the pool's answer.</summary>
    public string? Error { get; set; }
}

public sealed record AgentToolCall(string Id, string Name, string Arguments);

public sealed class AgentRunUsage
{
    public long PromptTokens { get; set; }

    public long CompletionTokens { get; set; }

    public long TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A piece of the text a model step is writing.</summary>
public sealed record TextDelta(int Step, string Text);

/// <summary>What a run says while it goes, as the server-sent events of a streamed run (<c>event: {Type}</c>).</summary>
public readonly record struct AgentRunEvent(string Type, object Data)
{
    public const string RunStarted = "run.started";
    public const string TextDelta = "text.delta";
    public const string ToolCall = "tool.call";
    public const string ToolResult = "tool.result";
    public const string StepFinished = "step.finished";
    public const string RunCompleted = "run.completed";
    public const string RunFailed = "run.failed";
}
