namespace AgentPlatform.Api.Usage;

/// <summary>
/// A usage export, written line by line as the ledger is read (hour by hour), so that a quarter's
/// records are never held whole in memory: a download (<c>Content-Disposition: attachment</c>) of a
/// header line, if any, and one line per record. Reading stops when the client goes.
/// </summary>
public sealed class UsageExport(string contentType, string fileName, string? header, Func<CancellationToken, IAsyncEnumerable<string>> lines) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var cancellation = httpContext.RequestAborted;
        response.ContentType = contentType;
        response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        if (header is not null)
        {
            await response.WriteAsync(header + "\n", cancellation);
        }
        await foreach (var line in lines(cancellation).WithCancellation(cancellation))
        {
            await response.WriteAsync(line + "\n", cancellation);
        }
    }
}
