using System.ComponentModel.DataAnnotations;
using AgentPlatform.Simulator.Faults;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator;

/// <summary>Configuration section <c>Simulator</c>.</summary>
public sealed class SimulatorOptions
{
    public const string SectionName = "Simulator";

    /// <summary>Tokens (words) in each answer, unless the request's max_tokens is lower.</summary>
    [Range(1, 100_000, ErrorMessage = "Simulator:OutputTokens must be between 1 and 100000.")]
    public int OutputTokens { get; set; } = 16;

    /// <summary>Delay before the first token (streaming) or before the whole answer (JSON).</summary>
    [Range(0, 600_000, ErrorMessage = "Simulator:TimeToFirstTokenMs must be between 0 and 600000.")]
    public int TimeToFirstTokenMs { get; set; }

    /// <summary>Delay between streamed tokens; a JSON answer waits for all of them.</summary>
    [Range(0, 60_000, ErrorMessage = "Simulator:TokenIntervalMs must be between 0 and 60000.")]
    public int TokenIntervalMs { get; set; }

    /// <summary>How long <c>stall-first</c> and <c>stall-mid</c> stall, unless a fault sets its own.</summary>
    [Range(0, 3_600_000, ErrorMessage = "Simulator:StallMs must be between 0 and 3600000.")]
    public int StallMs { get; set; } = 30_000;

    /// <summary>
    /// When set, a request whose prompt (as the simulator counts it) plus <c>max_tokens</c> is larger
    /// answers 400 with OpenAI's <c>context_length_exceeded</c> error, as a real model would.
    /// </summary>
    [Range(1, int.MaxValue, ErrorMessage = "Simulator:ContextWindow must be between 1 and 2147483647.")]
    public int? ContextWindow { get; set; }

    /// <summary>
    /// When set, every request must carry this key the way its provider sends it (<c>Authorization:
    /// Bearer</c>, Azure's <c>api-key</c>, Anthropic's <c>x-api-key</c>), so tests prove each adapter does.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Emulates OpenAI's prompt caching: a prompt of at least 1,024 tokens that this simulator has seen
    /// before reports its tokens, rounded down to a multiple of 128, as cached
    /// (<c>prompt_tokens_details.cached_tokens</c>; Anthropic's <c>cache_read_input_tokens</c>).
    /// </summary>
    public bool PromptCaching { get; set; }

    /// <summary>Faults active from start; <c>POST /sim/faults</c> changes them at run time.</summary>
    public List<FaultSpec> Faults { get; set; } = [];
}

/// <summary>Rules across fields: fault kinds must be known, rates within 0..1.</summary>
public sealed class SimulatorFaultsValidator : IValidateOptions<SimulatorOptions>
{
    public ValidateOptionsResult Validate(string? name, SimulatorOptions options)
    {
        var errors = new List<string>();
        for (var i = 0; i < options.Faults.Count; i++)
        {
            if (options.Faults[i].Validate() is { } error)
            {
                errors.Add($"Simulator:Faults:{i}: {error}");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
