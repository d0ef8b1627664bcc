using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Where a running process's allocations come from, by type and by call stack, per request: the runtime's
// allocation ticks (one about every 100 KB allocated, with its stack) sampled over a window of steady load.
// bench/api-cost.sh runs it (TRACE=hit or TRACE=miss); by hand:
//
//   collect <pid> <seconds> <file.nettrace>     trace a process (the load must be running meanwhile)
//   report <file.nettrace> <requests> [frames]  what each type and stack allocated per request
switch (args)
{
    case ["collect", var pid, var seconds, var file]:
        await CollectAsync(int.Parse(pid), TimeSpan.FromSeconds(double.Parse(seconds)), file);
        return 0;
    case ["report", var file, var requests, ..var rest]:
        Report(file, double.Parse(requests), rest.Length > 0 ? int.Parse(rest[0]) : 6);
        return 0;
    default:
        Console.Error.WriteLine("usage: collect <pid> <seconds> <file.nettrace> | report <file.nettrace> <requests> [frames]");
        return 2;
}

static async Task CollectAsync(int pid, TimeSpan window, string file)
{
    // The GC keyword at verbose level is what carries GCAllocationTick; rundown names the methods in the stacks.
    var providers = new[] { new EventPipeProvider(ClrTraceEventParser.ProviderName, EventLevel.Verbose, (long)ClrTraceEventParser.Keywords.GC) };
    using var session = new DiagnosticsClient(pid).StartEventPipeSession(providers, requestRundown: true);
    await using var output = File.Create(file);
    var copy = session.EventStream.CopyToAsync(output);
    await Task.Delay(window);
    await session.StopAsync(CancellationToken.None);
    await copy;
}

static void Report(string file, double requests, int frames)
{
    using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(file));
    var byType = new Dictionary<string, double>();
    var byStack = new Dictionary<string, double>();
    double total = 0;
    foreach (var traced in log.Events)
    {
        if (traced is not GCAllocationTickTraceData tick)
        {
            continue;
        }
        var bytes = (double)tick.AllocationAmount64;
        total += bytes;
        byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + bytes;
        var stack = new List<string>();
        for (var frame = tick.CallStack(); frame is not null && stack.Count < frames; frame = frame.Caller)
        {
            var method = frame.CodeAddress.FullMethodName;
            if (!string.IsNullOrEmpty(method) && !method.StartsWith("System.Runtime", StringComparison.Ordinal))
            {
                stack.Add(Short(method));
            }
        }
        var key = $"{tick.TypeName}  <=  {string.Join("  <  ", stack)}";
        byStack[key] = byStack.GetValueOrDefault(key) + bytes;
    }
    Console.WriteLine($"{total / requests:F0} B sampled per request ({requests:F0} requests)");
    Console.WriteLine("\nby type (B per request)");
    foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(25))
    {
        Console.WriteLine($"{bytes / requests,8:F0}  {type}");
    }
    Console.WriteLine("\nby stack (B per request)");
    foreach (var (stack, bytes) in byStack.OrderByDescending(p => p.Value).Take(40))
    {
        Console.WriteLine($"{bytes / requests,8:F0}  {stack}");
    }

    static string Short(string method) =>
        (method.IndexOf('(') is var open and > 0 ? method[..open] : method).Replace("Microsoft.AspNetCore.", "").Replace("AgentPlatform.", "");
}
