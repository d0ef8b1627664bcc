using System.Buffers;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// One provider's wire format for a simulated answer: its errors, its JSON answer, and the pieces of
/// its stream. The simulator decides the answer, faults and timing once; each wire only writes.
/// </summary>
public interface ICompletionWire
{
    Task WriteErrorAsync(HttpContext context, int status, string message, string type, string? code = null);

    void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion);

    /// <summary>What a stream says before the first token (OpenAI's role chunk; Anthropic's message and block starts).</summary>
    void WriteStart(IBufferWriter<byte> output, SimulatedCompletion completion);

    void WriteToolCall(IBufferWriter<byte> output, SimulatedCompletion completion);

    void WriteToken(IBufferWriter<byte> output, SimulatedCompletion completion, int token);

    /// <summary>What ends a stream (finish reason, usage, the end marker).</summary>
    void WriteEnd(IBufferWriter<byte> output, SimulatedCompletion completion);
}

/// <summary>OpenAI's Chat Completions format (also Azure OpenAI's).</summary>
public sealed class OpenAIWire : ICompletionWire
{
    public static readonly OpenAIWire Instance = new();

    public Task WriteErrorAsync(HttpContext context, int status, string message, string type, string? code = null) =>
        Contracts.OpenAI.OpenAIError.WriteAsync(context, status, message, type, code);

    public void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion) => CompletionWriter.WriteJson(output, completion);

    public void WriteStart(IBufferWriter<byte> output, SimulatedCompletion completion) => CompletionWriter.WriteRoleChunk(output, completion);

    public void WriteToolCall(IBufferWriter<byte> output, SimulatedCompletion completion) => CompletionWriter.WriteToolCallChunk(output, completion);

    public void WriteToken(IBufferWriter<byte> output, SimulatedCompletion completion, int token) => CompletionWriter.WriteTokenChunk(output, completion, token);

    public void WriteEnd(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        CompletionWriter.WriteFinishChunk(output, completion);
        if (completion.IncludeUsage)
        {
            CompletionWriter.WriteUsageChunk(output, completion);
        }
        output.Write(CompletionWriter.Done);
    }
}
